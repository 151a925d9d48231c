// matvec_blocks.wgsl — decode mat-vec straight from GGUF blocks:
//   y[first_row + r] (+)= Σ_c W[r, c] · x[c]   for r < rows (rows of this chunk)
// Concatenated after _quant_common.wgsl and one _quant_<type>.wgsl (QK, QB,
// deq8, dot32), and followed by one input reader, _x_<vec4|f32|rms_norm|
// silu_mul>.wgsl (the x binding and its readers x_prepare, x4, x1); the
// weights are never dequantized into memory.
//
// @group(0) @binding(0) wq: array<vec4<u32>>, read — one row-range chunk of the
//   weight: `rows` rows of `row_bytes` bytes each, as stored in the file
// @group(0) @binding(1) x: read (declared by _x_*.wgsl) — the input vector, cols f32
// @group(0) @binding(2) y: array<f32>, read_write — the output vector; this
//   chunk writes y[first_row .. first_row + rows)
// @group(0) @binding(3) params: Params, uniform
//   rows: rows in this chunk; cols: elements per row (a multiple of QK; any
//   count for the float types, whose partial last group of 8 is masked);
//   row_bytes: bytes per row; first_row: index of the chunk's first row in y;
//   eps: the fused RMS norm's epsilon (unused by the other readers);
//   acc: 1 for y += W·x (fusing the residual add), 0 for y = W·x (a uniform,
//   not an override, so both uses share one pipeline: one compile fewer)
// @group(0) @binding(4) — only with the fused readers: the RMS-norm weight
//   (_x_rms_norm.wgsl) or the up projection (_x_silu_mul.wgsl), cols f32
//
// Sections (specializeSource, quant_kernel.ts): QUANT for the quantized types
//   (QK >= 32), FLOAT for the float types, PARTIAL for float rows whose length
//   is not a multiple of 8 (needs FLOAT); the host keeps only what the weight takes.
// Overrides: WG (threads per workgroup, a power of two; the host picks 8 on
//   CPU drivers, where barriers are costly, and 64 on GPUs);
//   ROWS_ALIGNED (_quant_common.wgsl): the host sets it when row_bytes % 16 = 0.
// Workgroup: x_prepare (the reader's per-workgroup set-up: the fused RMS
//   norm's inverse RMS, else nothing), then WG threads compute NR = 8
//   consecutive rows; thread t handles the groups t, t+WG, ... of those rows
//   (one x load serves NR rows): 32-element
//   groups through dot32 for the quantized types (scales decoded once per
//   group), 8-element groups through deq8 for the float types (a partial
//   last group is masked),
//   then a shared-memory tree reduction. Dispatch: ceil(rows / NR) workgroups,
//   folded into x·y when above 65535 (linear id = wid.y·nwg.x + wid.x).
// Tolerance: f32 accumulation in a different order than the CPU twin
//   (NMSE ≲ 1e-12 relative to the f64 reference on random data).
// Loop bound per invocation (Mesa lavapipe silently stops every loop of an
//   invocation after 65,535 iterations in total): ⌈(cols/32)/WG⌉ quantized or
//   ⌈⌊cols/8⌋/WG⌉ float, + 9·log2(WG) for the reduction (log2(WG) steps of
//   1 + NR), + ⌈cols/(4·WG)⌉ + log2(WG) with the fused RMS norm; independent
//   of rows. WG = 8: 11008 columns take 199 (F16) or 70 (Q4_K). The host
//   (matvec.ts) refuses a shape over 65,535 (at WG = 8: F16 rows longer than
//   ~4.19M).

@group(0) @binding(0) var<storage, read> wq: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

struct Params {
  rows: u32,
  cols: u32,
  row_bytes: u32,
  first_row: u32,
  eps: f32,
  acc: u32,
}
@group(0) @binding(3) var<uniform> params: Params;

override WG: u32 = 64u;
const NR: u32 = 8u;

var<workgroup> partial: array<f32, NR * WG>;

/** x[c .. c+32) and its sum (c + 32 <= cols). */
fn x32(c: u32) -> X32 {
  let lo = mat4x4<f32>(x4(c), x4(c + 4u), x4(c + 8u), x4(c + 12u));
  let hi = mat4x4<f32>(x4(c + 16u), x4(c + 20u), x4(c + 24u), x4(c + 28u));
  let one = vec4<f32>(1.0);
  return X32(lo, hi, dot(one, lo * one) + dot(one, hi * one));
}

/** x[c .. c+8) with elements at or past `cols` zeroed (c < cols). */
fn x8_masked(c: u32) -> V8 {
  let k = vec4<u32>(0u, 1u, 2u, 3u);
  let last = vec4<u32>(params.cols - 1u);
  let i = min(vec4<u32>(c) + k, last);
  let j = min(vec4<u32>(c + 4u) + k, last);
  return mask8(
    V8(vec4<f32>(x1(i.x), x1(i.y), x1(i.z), x1(i.w)), vec4<f32>(x1(j.x), x1(j.y), x1(j.z), x1(j.w))),
    params.cols - c,
  );
}

/** dot32 at byte `offset`, sub-block `sub`, of the rows at `ba` (rows 0..3) and `bb` (4..7). */
fn rows_dot32(ba: vec4<u32>, bb: vec4<u32>, offset: u32, sub: u32, xs: X32) -> V8 {
  return V8(
    vec4<f32>(
      dot32(ba.x + offset, sub, xs),
      dot32(ba.y + offset, sub, xs),
      dot32(ba.z + offset, sub, xs),
      dot32(ba.w + offset, sub, xs),
    ),
    vec4<f32>(
      dot32(bb.x + offset, sub, xs),
      dot32(bb.y + offset, sub, xs),
      dot32(bb.z + offset, sub, xs),
      dot32(bb.w + offset, sub, xs),
    ),
  );
}

/** Like rows_dot32 for one 8-element group through deq8, elements n..7 cut. */
fn rows_dot8(ba: vec4<u32>, bb: vec4<u32>, offset: u32, sub: u32, xs: V8, n: u32) -> V8 {
  return V8(
    vec4<f32>(
      dot8(mask8(deq8(ba.x + offset, sub), n), xs),
      dot8(mask8(deq8(ba.y + offset, sub), n), xs),
      dot8(mask8(deq8(ba.z + offset, sub), n), xs),
      dot8(mask8(deq8(ba.w + offset, sub), n), xs),
    ),
    vec4<f32>(
      dot8(mask8(deq8(bb.x + offset, sub), n), xs),
      dot8(mask8(deq8(bb.y + offset, sub), n), xs),
      dot8(mask8(deq8(bb.z + offset, sub), n), xs),
      dot8(mask8(deq8(bb.w + offset, sub), n), xs),
    ),
  );
}

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) tid: u32,
) {
  x_prepare(tid);
  let row0 = (wid.y * nwg.x + wid.x) * NR;
  // Byte offsets of the NR = 8 rows (vectors, not an array: dynamically
  // indexed arrays spill on CPU drivers). Rows past the end re-read the last
  // row; their sums are never stored.
  let last = params.rows - 1u;
  let ba = min(vec4<u32>(row0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(last)) * params.row_bytes;
  let bb = min(vec4<u32>(row0) + vec4<u32>(4u, 5u, 6u, 7u), vec4<u32>(last)) * params.row_bytes;
  var acc = V8(vec4<f32>(0.0), vec4<f32>(0.0));
  // @if QUANT
  // Quantized types: 32-element groups through dot32.
  for (var g = tid; g < params.cols / 32u; g += WG) {
    let c = 32u * g;
    let r = rows_dot32(ba, bb, (c / QK) * QB, (c % QK) / 32u, x32(c));
    acc = V8(acc.lo + r.lo, acc.hi + r.hi);
  }
  // @end QUANT
  // @if FLOAT
  // Float types: 8-element groups through deq8.
  let full = params.cols / 8u;
  for (var g = tid; g < full; g += WG) {
    let c = 8u * g;
    let r = rows_dot8(ba, bb, (c / QK) * QB, (c % QK) / 8u, V8(x4(c), x4(c + 4u)), 8u);
    acc = V8(acc.lo + r.lo, acc.hi + r.hi);
  }
  // @end FLOAT
  // @if PARTIAL
  // A partial last group (float types), on the thread next in turn.
  if (tid == full % WG) {
    let c = 8u * full;
    let r = rows_dot8(ba, bb, (c / QK) * QB, (c % QK) / 8u, x8_masked(c), params.cols - c);
    acc = V8(acc.lo + r.lo, acc.hi + r.hi);
  }
  // @end PARTIAL
  partial[tid] = acc.lo.x;
  partial[WG + tid] = acc.lo.y;
  partial[2u * WG + tid] = acc.lo.z;
  partial[3u * WG + tid] = acc.lo.w;
  partial[4u * WG + tid] = acc.hi.x;
  partial[5u * WG + tid] = acc.hi.y;
  partial[6u * WG + tid] = acc.hi.z;
  partial[7u * WG + tid] = acc.hi.w;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (tid < stride) {
      for (var r = 0u; r < NR; r++) {
        partial[r * WG + tid] += partial[r * WG + tid + stride];
      }
    }
    workgroupBarrier();
  }
  if (tid < NR && row0 + tid < params.rows) {
    let i = params.first_row + row0 + tid;
    let sum = partial[tid * WG];
    y[i] = select(sum, y[i] + sum, params.acc != 0u);
  }
}
