// get_rows_blocks.wgsl — embedding lookup straight from GGUF blocks:
//   out[t][c] = W[ids[ids_offset + t], c]   for t < n_tokens, c < cols
// Concatenated after _quant_common.wgsl, one _quant_<type>.wgsl (QK, QB,
// deq8) and STEP_WGSL (struct Step, src/gpu/step.ts).
// A token whose id lies outside this chunk's rows is left to the
// dispatch of the chunk that holds it; an id past the table is never written.
//
// @group(0) @binding(0) wq: array<vec4<u32>>, read — one row-range chunk of the
//   table: `rows` rows of `row_bytes` bytes, as stored in the file
// @group(0) @binding(1) ids: array<u32>, read — token ids
// @group(0) @binding(2) out: array<f32>, read_write — [max_tokens][cols] f32
// @group(0) @binding(3) step: Step, uniform — n_tokens = tokens of this step
//   (clamped to max_tokens); the other fields are unused here
// @group(0) @binding(4) params: Params, uniform
//   rows, cols (a multiple of QK; any count for the float types), row_bytes,
//   first_row: the chunk;
//   ids_offset: index in `ids` of token 0; max_tokens: rows `out` holds
//
// Override: ROWS_ALIGNED (_quant_common.wgsl): the host sets it when row_bytes % 16 = 0.
// Workgroup: 64 threads, one 8-element group each (the last one may be
//   partial). Dispatch: x = ceil(ceil(cols / 8) / 64) workgroups along the row, y = max_tokens (one per token).
// Exact: values equal the CPU dequantizer up to f32 rounding of scale products.
// Loop bound per invocation: 8 (one copy of at most 8 values), whatever the
//   vocabulary, row length or token count (lavapipe's limit is 65,535).

@group(0) @binding(0) var<storage, read> wq: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@group(0) @binding(3) var<uniform> step: Step;

struct Params {
  rows: u32,
  cols: u32,
  row_bytes: u32,
  first_row: u32,
  ids_offset: u32,
  max_tokens: u32,
  pad0: u32,
  pad1: u32,
}
@group(0) @binding(4) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let t = wid.y;
  let g = wid.x * 64u + tid;
  if (t >= min(step.n_tokens, params.max_tokens) || 8u * g >= params.cols) {
    return;
  }
  let id = ids[params.ids_offset + t];
  if (id < params.first_row || id - params.first_row >= params.rows) {
    return;
  }
  let per_block = QK / 8u;
  let v = deq8((id - params.first_row) * params.row_bytes + (g / per_block) * QB, g % per_block);
  let at = t * params.cols + 8u * g;
  let n = min(params.cols - 8u * g, 8u);
  for (var k = 0u; k < n; k++) {
    out[at + k] = select(v.hi[k & 3u], v.lo[k & 3u], k < 4u);
  }
}
