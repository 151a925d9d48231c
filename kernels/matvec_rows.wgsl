// matvec_rows.wgsl — decode mat-vec for CPU drivers, straight from GGUF blocks:
//   y[first_row + r] (+)= Σ_c W[r, c] · x[c]   for r < rows (rows of this chunk)
// Concatenated after _quant_common.wgsl, one _quant_<type>.wgsl and the
// type's unit (matvec.ts): _matvec_rows_unit_x.wgsl (UNIT, UnitX, unit_x),
// _matvec_rows_unit_words.wgsl where the type reads realigned words, and
// _matvec_rows_<type>.wgsl (unit_dot); matvec_input.wgsl stages x (and the
// fused RMS norm or SiLU gate) in a dispatch just before.
//
// Why (Mesa lavapipe, 8-lane SIMD): a storage load at a computed offset runs
// as a per-lane loop of scalar loads, a uniform-buffer load as one gather. So
// each thread owns whole rows and reads each weight byte once, in vec4 loads
// covering a unit of whole blocks (UNIT columns: 4 blocks of Q8_0/Q5_0, one
// super-block of Q4_K/Q6_K; 6 to 14 vec4 for 88 to 210 bytes), where the blocks
// kernel (matvec_blocks.wgsl) takes 3–4 loads per 32 values and reduces
// across threads through workgroup memory. All threads read the same x
// values, from the uniform buffer: a unit's x is loaded once and serves the
// thread's NL rows. The NL rows of a thread are adjacent (row0 + NL·t + i):
// 1.15–1.3× faster than interleaving the threads' rows, whose 64 streams the
// CPU prefetches worse (measured on lavapipe). On a GPU this layout reads
// nothing coalesced, so only a fallback adapter takes it (matvec.ts).
//
// @group(0) @binding(0) wq: array<vec4<u32>>, read — one row-range chunk of the weight
// @group(0) @binding(1) xs: array<vec4<f32>, {XN}>, uniform — x̂ (cols/4 vec4),
//   then the sums of its 16-value groups (cols/64 vec4), from matvec_input.wgsl
// @group(0) @binding(2) y: array<f32>, read_write — the output; this chunk
//   writes y[first_row .. first_row + rows)
// @group(0) @binding(3) params: Params, uniform — rows (in this chunk), cols
//   (a multiple of UNIT), row_bytes, first_row, acc (1: y += W·x, 0: y = W·x)
//
// Placeholders (matvec.ts): {XN} the uniform array's vec4 (cols/4 + cols/64);
//   lines marked `// @each i` are written out for i < NL = {RB} (repeatLines).
// Workgroup: 8 threads, thread t computes rows row0 + NL·t + i (i < NL; NL is
//   8 or 4 by type, matvec.ts); rows past the end re-read the last row and
//   are not stored. Dispatch: ceil(rows / (8·NL)) workgroups, folded into x·y
//   above 65535.
// Tolerance: f32 sums in another order than the CPU twin (NMSE ≲ 1e-13 on
//   random data).
// Loop bound per invocation: cols / UNIT, at most 120 (the staged input caps
//   cols at 15,360 in whole units: matvecRowsFits, matvec.ts).

@group(0) @binding(0) var<storage, read> wq: array<vec4<u32>>;
@group(0) @binding(1) var<uniform> xs: array<vec4<f32>, {XN}>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

struct Params {
  rows: u32,
  cols: u32,
  row_bytes: u32,
  first_row: u32,
  acc: u32,
}
@group(0) @binding(3) var<uniform> params: Params;

const NL: u32 = {RB}u;

/** Bytes of one unit of UNIT columns in a row. */
const UNIT_BYTES: u32 = UNIT / QK * QB;

/** x̂[c .. c+32) and its sum (c a multiple of 32), from the staged input. */
fn x32_at(c: u32) -> X32 {
  let i = c / 4u;
  let lo = mat4x4<f32>(xs[i], xs[i + 1u], xs[i + 2u], xs[i + 3u]);
  let hi = mat4x4<f32>(xs[i + 4u], xs[i + 5u], xs[i + 6u], xs[i + 7u]);
  let g = params.cols / 4u + c / 64u; // the sums of the 16-value groups c/16, c/16 + 1
  let pair = select(xs[g].xy, xs[g].zw, (c & 32u) != 0u);
  return X32(lo, hi, pair.x + pair.y);
}

@compute @workgroup_size(8)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let row0 = (wid.y * nwg.x + wid.x) * 8u * NL + NL * t;
  let last = params.rows - 1u;
  let b{i} = min(row0 + {i}u, last) * params.row_bytes; // @each i
  var a{i} = 0.0; // @each i
  for (var u = 0u; u < params.cols / UNIT; u++) {
    let xu = unit_x(UNIT * u);
    a{i} += unit_dot(b{i} + UNIT_BYTES * u, xu); // @each i
  }
  if (row0 + {i}u < params.rows) { let r{i} = params.first_row + row0 + {i}u; y[r{i}] = select(a{i}, y[r{i}] + a{i}, params.acc != 0u); } // @each i
}
