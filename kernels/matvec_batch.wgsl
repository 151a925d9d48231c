// matvec_batch.wgsl — batched decode mat-vec straight from GGUF blocks:
//   Y[b, first_row + r] (+)= Σ_c W[r, c] · X[b, c]
//   for r < rows, first_input <= b < first_input + n
// with n = min(step.n_tokens - first_input, NB) input rows (none when the
// step has no more than first_input): each weight group is dequantized once
// (deq8) and applied to all n rows, so one pass over the weights serves NB
// rows of the batch; a batch of more rows runs one dispatch per group of NB.
// Concatenated after _quant_common.wgsl, one _quant_<type>.wgsl (QK, QB,
// deq8) and STEP_WGSL, followed by _x_vec4.wgsl or, on CPU drivers,
// _x_uniform.wgsl (the x binding and x4).
//
// @group(0) @binding(0) wq: array<vec4<u32>>, read — one row-range chunk of the weight
// @group(0) @binding(1) x: read (_x_vec4.wgsl: X, the batch's rows of cols f32,
//   row-major; _x_uniform.wgsl: a window of X starting at the group's first row)
// @group(0) @binding(2) y: array<f32>, read_write — Y, the batch's rows of out_rows f32;
//   this chunk and group write Y[b, first_row .. first_row + rows) for their n rows b
// @group(0) @binding(3) params: Params, uniform
//   rows: rows in this chunk; cols: elements per row (a multiple of 8 and of QK);
//   row_bytes: bytes per row; first_row: the chunk's first row; out_rows: the
//   weight's rows (Y's row stride); acc: 1 for Y += X·Wᵀ, 0 for Y = X·Wᵀ;
//   first_input: the group's first input row (a multiple of NB); x_first:
//   where row first_input starts in the bound x (first_input·cols for the
//   whole X, 0 for a window starting at that row)
// @group(0) @binding(4) step: Step, uniform — n_tokens = active input rows
//
// Overrides: WG (threads per workgroup, a power of two), NB (input rows one
//   dispatch serves, 1 ..= 8); ROWS_ALIGNED (_quant_common.wgsl).
// Workgroup: WG threads compute NR = 8 consecutive weight rows for every
//   input row; thread t handles the 8-element groups t, t+WG, ... (eight deq8,
//   then n dot products each; 8 rows rather than 4 halve the x loads, 1.4×
//   faster on lavapipe at NB = 8), then a shared-memory tree reduction.
//   Dispatch: ceil(rows / NR) workgroups per group of NB input rows, folded
//   into x·y above 65535.
// Tolerance: f32 accumulation in another order than the CPU twin (the
//   reference mat-vec per input row).
// Loop bound per invocation: ⌈(cols/8)/WG⌉ + log2(WG)·(1 + NR·NB) + ⌈NR·NB/WG⌉
//   (checked by matvec_batch.ts against lavapipe's 65,535).

@group(0) @binding(0) var<storage, read> wq: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

struct Params {
  rows: u32,
  cols: u32,
  row_bytes: u32,
  first_row: u32,
  out_rows: u32,
  acc: u32,
  first_input: u32,
  x_first: u32,
}
@group(0) @binding(3) var<uniform> params: Params;
@group(0) @binding(4) var<uniform> step: Step;

override WG: u32 = 8u;
override NB: u32 = 8u;
const NR: u32 = 8u;

var<workgroup> partial: array<f32, NR * NB * WG>;

/** The eight dequantized weight rows of one 8-element group. */
struct WRows {
  r0: V8,
  r1: V8,
  r2: V8,
  r3: V8,
  r4: V8,
  r5: V8,
  r6: V8,
  r7: V8,
}

/** The eight rows of `w` dotted with x[xc .. xc+8). */
fn rows_dot(w: WRows, xc: u32) -> V8 {
  let v = V8(x4(xc), x4(xc + 4u));
  return V8(vec4<f32>(dot8(w.r0, v), dot8(w.r1, v), dot8(w.r2, v), dot8(w.r3, v)),
    vec4<f32>(dot8(w.r4, v), dot8(w.r5, v), dot8(w.r6, v), dot8(w.r7, v)));
}

/** a + b. */
fn add8(a: V8, b: V8) -> V8 {
  return V8(a.lo + b.lo, a.hi + b.hi);
}

/** Input row b's eight row sums of thread `tid` into `partial`. */
fn store_partial(b: u32, tid: u32, a: V8) {
  let k = b * NR * WG + tid;
  partial[k] = a.lo.x;
  partial[k + WG] = a.lo.y;
  partial[k + 2u * WG] = a.lo.z;
  partial[k + 3u * WG] = a.lo.w;
  partial[k + 4u * WG] = a.hi.x;
  partial[k + 5u * WG] = a.hi.y;
  partial[k + 6u * WG] = a.hi.z;
  partial[k + 7u * WG] = a.hi.w;
}

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) tid: u32,
) {
  x_prepare(tid);
  // A group past the step's rows has nothing to do (uniform: the whole dispatch returns).
  if (step.n_tokens <= params.first_input) {
    return;
  }
  let row0 = (wid.y * nwg.x + wid.x) * NR;
  let n = min(step.n_tokens - params.first_input, NB);
  let xc = params.x_first;
  // Rows past the end re-read the last row; their sums are never stored.
  let last = params.rows - 1u;
  let base = min(vec4<u32>(row0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(last)) * params.row_bytes;
  let bb = min(vec4<u32>(row0) + vec4<u32>(4u, 5u, 6u, 7u), vec4<u32>(last)) * params.row_bytes;
  // One accumulator per input row, as named vectors (dynamically indexed
  // arrays spill on CPU drivers); rows at or past NB fold away at compile time.
  var a0 = V8(vec4<f32>(0.0), vec4<f32>(0.0));
  var a1 = V8(vec4<f32>(0.0), vec4<f32>(0.0));
  var a2 = V8(vec4<f32>(0.0), vec4<f32>(0.0));
  var a3 = V8(vec4<f32>(0.0), vec4<f32>(0.0));
  var a4 = V8(vec4<f32>(0.0), vec4<f32>(0.0));
  var a5 = V8(vec4<f32>(0.0), vec4<f32>(0.0));
  var a6 = V8(vec4<f32>(0.0), vec4<f32>(0.0));
  var a7 = V8(vec4<f32>(0.0), vec4<f32>(0.0));
  for (var g = tid; g < params.cols / 8u; g += WG) {
    let c = 8u * g;
    let offset = (c / QK) * QB;
    let sub = (c % QK) / 8u;
    let w = WRows(
      deq8(base.x + offset, sub),
      deq8(base.y + offset, sub),
      deq8(base.z + offset, sub),
      deq8(base.w + offset, sub),
      deq8(bb.x + offset, sub),
      deq8(bb.y + offset, sub),
      deq8(bb.z + offset, sub),
      deq8(bb.w + offset, sub),
    );
    a0 = add8(a0, rows_dot(w, xc + c));
    if (NB > 1u && n > 1u) { a1 = add8(a1, rows_dot(w, xc + params.cols + c)); }
    if (NB > 2u && n > 2u) { a2 = add8(a2, rows_dot(w, xc + 2u * params.cols + c)); }
    if (NB > 3u && n > 3u) { a3 = add8(a3, rows_dot(w, xc + 3u * params.cols + c)); }
    if (NB > 4u && n > 4u) { a4 = add8(a4, rows_dot(w, xc + 4u * params.cols + c)); }
    if (NB > 5u && n > 5u) { a5 = add8(a5, rows_dot(w, xc + 5u * params.cols + c)); }
    if (NB > 6u && n > 6u) { a6 = add8(a6, rows_dot(w, xc + 6u * params.cols + c)); }
    if (NB > 7u && n > 7u) { a7 = add8(a7, rows_dot(w, xc + 7u * params.cols + c)); }
  }
  store_partial(0u, tid, a0);
  if (NB > 1u) { store_partial(1u, tid, a1); }
  if (NB > 2u) { store_partial(2u, tid, a2); }
  if (NB > 3u) { store_partial(3u, tid, a3); }
  if (NB > 4u) { store_partial(4u, tid, a4); }
  if (NB > 5u) { store_partial(5u, tid, a5); }
  if (NB > 6u) { store_partial(6u, tid, a6); }
  if (NB > 7u) { store_partial(7u, tid, a7); }
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (tid < stride) {
      for (var k = 0u; k < NR * NB; k++) {
        partial[k * WG + tid] += partial[k * WG + tid + stride];
      }
    }
    workgroupBarrier();
  }
  for (var k = tid; k < NR * n; k += WG) {
    let row = row0 + k % NR;
    if (row < params.rows) {
      let i = (params.first_input + k / NR) * params.out_rows + params.first_row + row;
      let sum = partial[k * WG];
      y[i] = select(sum, y[i] + sum, params.acc != 0u);
    }
  }
}
