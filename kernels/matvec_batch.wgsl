// matvec_batch.wgsl — small-batch decode mat-vec straight from GGUF blocks:
//   Y[b, first_row + r] (+)= Σ_c W[r, c] · X[b, c]   for r < rows, b < n
// with n = min(step.n_tokens, NB) input rows: each weight group is
// dequantized once (deq8) and applied to all n rows, so one pass over the
// weights serves the whole batch. Concatenated after _quant_common.wgsl, one
// _quant_<type>.wgsl (QK, QB, deq8) and STEP_WGSL, followed by
// _x_vec4.wgsl (the x binding and x4).
//
// @group(0) @binding(0) wq: array<vec4<u32>>, read — one row-range chunk of the weight
// @group(0) @binding(1) x: read (_x_vec4.wgsl) — X, NB rows of cols f32, row-major
// @group(0) @binding(2) y: array<f32>, read_write — Y, NB rows of out_rows f32;
//   this chunk writes Y[b, first_row .. first_row + rows) for b < n
// @group(0) @binding(3) params: Params, uniform
//   rows: rows in this chunk; cols: elements per row (a multiple of 8 and of QK);
//   row_bytes: bytes per row; first_row: the chunk's first row; out_rows: the
//   weight's rows (Y's row stride); acc: 1 for Y += X·Wᵀ, 0 for Y = X·Wᵀ
// @group(0) @binding(4) step: Step, uniform — n_tokens = active input rows
//
// Overrides: WG (threads per workgroup, a power of two), NB (input rows the
//   pipeline serves, 1 ..= 8); ROWS_ALIGNED (_quant_common.wgsl).
// Workgroup: WG threads compute NR = 4 consecutive weight rows for every
//   input row; thread t handles the 8-element groups t, t+WG, ... (four deq8,
//   then n dot products each), then a shared-memory tree reduction.
//   Dispatch: ceil(rows / NR) workgroups, folded into x·y above 65535.
// Tolerance: f32 accumulation in another order than the CPU twin (the
//   reference mat-vec per input row).
// Loop bound per invocation: ⌈(cols/8)/WG⌉·(1 + NB) + NB + log2(WG)·(1 + NR·NB)
//   + ⌈NR·NB/WG⌉ (checked by matvec_batch.ts against lavapipe's 65,535).

@group(0) @binding(0) var<storage, read> wq: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

struct Params {
  rows: u32,
  cols: u32,
  row_bytes: u32,
  first_row: u32,
  out_rows: u32,
  acc: u32,
}
@group(0) @binding(3) var<uniform> params: Params;
@group(0) @binding(4) var<uniform> step: Step;

override WG: u32 = 8u;
override NB: u32 = 8u;
const NR: u32 = 4u;
const MAX_NB: u32 = 8u;

var<workgroup> partial: array<f32, NR * NB * WG>;

/** Σ of the eight products of `w` and `v`. */
fn dot8(w: V8, v: V8) -> f32 {
  return dot(w.lo, v.lo) + dot(w.hi, v.hi);
}

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) tid: u32,
) {
  x_prepare(tid);
  let row0 = (wid.y * nwg.x + wid.x) * NR;
  let n = min(step.n_tokens, NB);
  // Rows past the end re-read the last row; their sums are never stored.
  let last = params.rows - 1u;
  let base = min(vec4<u32>(row0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(last)) * params.row_bytes;
  var acc: array<vec4<f32>, MAX_NB>;
  for (var g = tid; g < params.cols / 8u; g += WG) {
    let c = 8u * g;
    let offset = (c / QK) * QB;
    let sub = (c % QK) / 8u;
    let w0 = deq8(base.x + offset, sub);
    let w1 = deq8(base.y + offset, sub);
    let w2 = deq8(base.z + offset, sub);
    let w3 = deq8(base.w + offset, sub);
    for (var b = 0u; b < NB; b++) {
      if (b < n) {
        let xc = b * params.cols + c;
        let v = V8(x4(xc), x4(xc + 4u));
        acc[b] += vec4<f32>(dot8(w0, v), dot8(w1, v), dot8(w2, v), dot8(w3, v));
      }
    }
  }
  for (var b = 0u; b < NB; b++) {
    let k = b * NR * WG + tid;
    partial[k] = acc[b].x;
    partial[k + WG] = acc[b].y;
    partial[k + 2u * WG] = acc[b].z;
    partial[k + 3u * WG] = acc[b].w;
  }
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
      let i = (k / NR) * params.out_rows + params.first_row + row;
      let sum = partial[k * WG];
      y[i] = select(sum, y[i] + sum, params.acc != 0u);
    }
  }
}
