// matvec_rows.wgsl — mat-vec for CPU drivers, straight from GGUF blocks, for
// NI staged inputs (NI = 1: decode; more: a batch group, matvec_batch.ts):
//   Y[first_input + h, first_row + r] (+)= Σ_c W[r, first_unit·UNIT + c] · X̂_h[c]
//   for r < rows (rows of this chunk), c < cols (the columns staged), h < NI
// Concatenated after _quant_common.wgsl, one _quant_<type>.wgsl and the
// type's unit (matvec.ts): _matvec_rows_unit_x.wgsl (UNIT, UnitX, unit_x),
// _matvec_rows_unit_words.wgsl where the type reads realigned words, and
// _matvec_rows_<type>.wgsl (unit_dot); with BATCH, after STEP_WGSL.
// matvec_input.wgsl stages the inputs (and, for one, the fused RMS norm or
// SiLU gate) in a dispatch just before.
//
// Why (Mesa lavapipe, 8-lane SIMD): a storage load at a computed offset runs
// as a per-lane loop of scalar loads, a uniform-buffer load as one gather. So
// each thread owns whole rows and reads each weight byte once, in vec4 loads
// covering a unit of whole blocks (UNIT columns: 4 blocks of Q8_0/Q5_0, one
// super-block of Q4_K/Q6_K; 6 to 14 vec4 for 88 to 210 bytes), where the blocks
// kernel (matvec_blocks.wgsl) takes 3–4 loads per 32 values and reduces
// across threads through workgroup memory. All threads read the same x
// values, from the uniform buffer: a unit's x is loaded once and serves the
// thread's NL rows, and a unit's weights serve the NI inputs. The NL rows of
// a thread are adjacent (row0 + NL·t + i): 1.15–1.3× faster than
// interleaving the threads' rows, whose 64 streams the CPU prefetches worse
// (measured on lavapipe). On a GPU this layout reads nothing coalesced, so
// only a fallback adapter takes it (matvec.ts).
//
// Sections (matvec.ts): ONE — one input, its 16-value sums staged after x̂;
//   BATCH — NI inputs of x̂ only (a 32-value group's sum is added here, so 8
//   rows of 2,048 columns fill the 64 KiB uniform), and the step uniform
//   says how many are real: min(n_tokens − first_input, NI).
//
// @group(0) @binding(0) wq: array<vec4<u32>>, read — one row-range chunk of the weight
// @group(0) @binding(1) xs: array<vec4<f32>, {XN}>, uniform — per input, x̂
//   (cols/4 vec4), then with ONE the sums of its 16-value groups (cols/64
//   vec4), from matvec_input.wgsl
// @group(0) @binding(2) y: array<f32>, read_write — the output, rows of
//   out_rows; this chunk writes Y[first_input + h, first_row .. first_row + rows)
// @group(0) @binding(3) params: Params, uniform — rows (in this chunk), cols
//   (columns staged, a multiple of UNIT), row_bytes, first_row, acc (1: y +=
//   W·x, 0: y = W·x), out_rows (Y's row stride), first_input (the group's
//   first input row), first_unit (the first unit of columns staged)
// @group(0) @binding(4) step: Step, uniform — BATCH only: n_tokens
//
// Placeholders (matvec.ts): {XN} the uniform array's vec4; lines marked
//   `// @each i`, `// @each h`, `// @each i h` are written out for i < NL =
//   {RB}, h < NI = {HB} (repeatLines).
// Workgroup: 8 threads, thread t computes rows row0 + NL·t + i (i < NL; NL is
//   8 or 4 by type, matvec.ts) for every input; rows past the end re-read the
//   last row and are not stored. Dispatch: ceil(rows / (8·NL)) workgroups,
//   folded into x·y above 65535.
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
  out_rows: u32,
  first_input: u32,
  first_unit: u32,
}
@group(0) @binding(3) var<uniform> params: Params;
// @if BATCH
@group(0) @binding(4) var<uniform> step: Step;
// @end BATCH

const NL: u32 = {RB}u;
const NI: u32 = {HB}u;

/** Bytes of one unit of UNIT columns in a row. */
const UNIT_BYTES: u32 = UNIT / QK * QB;

/** x̂[c .. c+32) and its sum (c a multiple of 32), from the staged input at vec4 `base`. */
fn x32_at(base: u32, c: u32) -> X32 {
  let i = base + c / 4u;
  let lo = mat4x4<f32>(xs[i], xs[i + 1u], xs[i + 2u], xs[i + 3u]);
  let hi = mat4x4<f32>(xs[i + 4u], xs[i + 5u], xs[i + 6u], xs[i + 7u]);
  // @if ONE
  let g = base + params.cols / 4u + c / 64u; // the sums of the 16-value groups c/16, c/16 + 1
  let pair = select(xs[g].xy, xs[g].zw, (c & 32u) != 0u);
  return X32(lo, hi, pair.x + pair.y);
  // @end ONE
  // @if BATCH
  let s = (lo[0] + lo[1]) + (lo[2] + lo[3]) + ((hi[0] + hi[1]) + (hi[2] + hi[3]));
  return X32(lo, hi, (s.x + s.y) + (s.z + s.w));
  // @end BATCH
}

@compute @workgroup_size(8)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let row0 = (wid.y * nwg.x + wid.x) * 8u * NL + NL * t;
  let last = params.rows - 1u;
  let b{i} = min(row0 + {i}u, last) * params.row_bytes + UNIT_BYTES * params.first_unit; // @each i
  // @if ONE
  let staged = params.cols / 4u + params.cols / 64u;
  // @end ONE
  // @if BATCH
  let staged = params.cols / 4u;
  // @end BATCH
  var a{i}_{h} = 0.0; // @each i h
  for (var u = 0u; u < params.cols / UNIT; u++) {
    let xu{h} = unit_x({h}u * staged, UNIT * u); // @each h
    a{i}_{h} += unit_dot(b{i} + UNIT_BYTES * u, xu{h}); // @each i h
  }
  // @if BATCH
  let inputs = min(step.n_tokens - min(step.n_tokens, params.first_input), NI);
  // @end BATCH
  // @if ONE
  let inputs = 1u;
  // @end ONE
  if (row0 + {i}u < params.rows && {h}u < inputs) { let r = ({h}u + params.first_input) * params.out_rows + params.first_row + row0 + {i}u; y[r] = select(a{i}_{h}, y[r] + a{i}_{h}, params.acc != 0u); } // @each i h
}
