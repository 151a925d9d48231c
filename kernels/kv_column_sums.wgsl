// kv_column_sums: adds one prefill chunk's causal attention probabilities into
// per-key column sums (the d2o prefill statistic; twin: causalColumnSums in
// src/reference/kv/column_sums.ts, which sums all chunks at once):
//   out[h][j] += Σ_{t in this sub-chunk, step.pos + t ≥ max(j, q_from)} exp(q_t,h · k_j · scale − lse[t][h])
// for query heads h, keys j < step.pos + step.n_tokens (slot = position). Query
// head h reads KV head ⌊h / G⌋. No T×T matrix and no atomics: each invocation
// owns one (head, key) sum; the host splits a step's queries into sub-chunks of
// at most Q_TILE rows, one dispatch each, in order, so the result is deterministic.
// Concatenated after the keys' element format (_kv_elem_f32.wgsl or
// _kv_elem_f16.wgsl as KVec, k_load; the values' VVec is unused) and STEP_WGSL by the host.
// Bindings (group 0):
//   0 q:      storage, read        array<vec4f>  T × n_head × HEAD_DIM (rotated)
//   1 k:      storage, read        array<KVec>   n_head_kv × n_slots × HEAD_DIM (rotated; f32 or f16)
//   2 lse:    storage, read        array<f32>    T × n_head (attention_prefill's log-sum-exp)
//   3 out:    storage, read_write  array<f32>    n_head × n_slots (zeroed before the first chunk)
//   4 step:   uniform Step (pos, n_tokens used)
//   5 params: uniform Params { n_head, n_slots, scale, t0, q_from } (t0 = first query row of the
//             sub-chunk; q_from = first query position counted: an observation window, 0 = all)
// Overrides: HEAD_DIM (a multiple of 4), G (query heads per KV head), Q_TILE.
// Workgroup size 64; one invocation per (key j, query head h): x = ceil(n_slots / 64), y = n_head.
// Loop bound per invocation: Q_TILE · HEAD_DIM / 4 (the host keeps it under lavapipe's 65,535).
// Tolerance vs the f64 twin on the cache's values (f16: the keys as rounded): f32 sums, NMSE ≲ 1e-12.

override HEAD_DIM: u32 = 64u;
override G: u32 = 1u;
override Q_TILE: u32 = 256u;

struct Params { n_head: u32, n_slots: u32, scale: f32, t0: u32, q_from: u32 }

@group(0) @binding(0) var<storage, read> q: array<vec4f>;
@group(0) @binding(1) var<storage, read> k: array<KVec>;
@group(0) @binding(2) var<storage, read> lse: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> step: Step;
@group(0) @binding(5) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let j = gid.x;
  let h = gid.y;
  let end_row = min(step.n_tokens, params.t0 + Q_TILE);
  if (j >= params.n_slots || j >= step.pos + end_row || params.t0 >= end_row) {
    return;
  }
  // Rows t with step.pos + t ≥ max(j, q_from).
  var t = params.t0;
  let first = max(j, params.q_from);
  if (first > step.pos + t) {
    t = first - step.pos;
  }
  let d4 = HEAD_DIM / 4u;
  let k_row = ((h / G) * params.n_slots + j) * d4;
  var sum = 0.0;
  for (; t < end_row; t++) {
    let q_row = (t * params.n_head + h) * d4;
    var s = 0.0;
    for (var d = 0u; d < d4; d++) {
      s += dot(q[q_row + d], k_load(k[k_row + d]));
    }
    sum += exp(s * params.scale - lse[t * params.n_head + h]);
  }
  out[h * params.n_slots + j] += sum;
}
