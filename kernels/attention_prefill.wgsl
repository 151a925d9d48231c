// attention_prefill: causal attention for the T tokens of a prefill chunk over
// the cache, with grouped-query heads, plus each row's log-sum-exp.
//   Token t (position step.pos + t) attends to slots 0 .. step.pos + t (slot = position);
//   s_j = q·k_j / sqrt(head_dim);  out = Σ_j softmax(s)_j · v_j;  lse = max_j s_j + log Σ_j exp(s_j − max)
//   Query head h reads KV head ⌊h / G⌋. Correct for a later chunk (step.pos > 0).
//   No T×T matrix: scores live one tile at a time in workgroup memory.
// Concatenated after the keys' and the values' element formats (_kv_elem_f32.wgsl
// or _kv_elem_f16.wgsl as KVec, k_load and VVec, v_load), the Step struct (STEP_WGSL) and
// _attention.wgsl (the core, Params and overrides) by the host. Two entry points, run in order:
//   partial: one workgroup per (KV head, token, slot chunk); x = n_head_kv,
//            y = the largest token count of a step, z = n_chunks = ceil(n_slots / CHUNK).
//            Rows t ≥ step.n_tokens and chunks past the row's last slot return.
//   combine: one workgroup per (query head, token); x = n_head, y as above.
//   (partial_direct replaces both when n_chunks = 1: one workgroup per (KV head,
//   token), x = n_head_kv, y as above, writing out and lse directly.)
// Bindings (group 0; each entry point's auto layout holds the ones it uses):
//   0 q:        storage, read        array<f32>  T × n_head × HEAD_DIM (rotated)
//   1 k_cache:  storage, read        array<KVec>  n_head_kv × n_slots × HEAD_DIM (rotated; f32 or f16)
//   2 v_cache:  storage, read        array<VVec>  n_head_kv × n_slots × HEAD_DIM (f32 or f16)
//   3 out:      storage, read_write  array<vec4f> T × n_head × HEAD_DIM
//   4 lse:      storage, read_write  array<f32>  T × n_head
//   5 part_acc: storage, read_write  array<vec4f> T × n_head × n_chunks × HEAD_DIM (scratch)
//   6 part_ml:  storage, read_write  array<f32>  T × n_head × n_chunks × 2 (scratch)
//   7 step:     uniform Step (pos, n_tokens used)
//   8 params:   uniform Params { n_head, n_slots, scale, n_chunks }
// Tolerance vs the f64 CPU twin on the cache's values (f16: the halves it holds):
// NMSE ≤ ~3e-12 (measured up to n_kv = 8k), max abs ~1e-6 for unit-scale inputs
// (the f16 rounding itself moves the outputs by ≤ ~2e-3 there, tests/kernels/attention_test.ts).

@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> k_cache: array<KVec>;
@group(0) @binding(2) var<storage, read> v_cache: array<VVec>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> lse: array<f32>;
@group(0) @binding(5) var<storage, read_write> part_acc: array<vec4f>;
@group(0) @binding(6) var<storage, read_write> part_ml: array<f32>;
@group(0) @binding(7) var<uniform> step: Step;
@group(0) @binding(8) var<uniform> params: Params;

// Valid slots of token row t: its own position and everything before it.
fn row_slots(t: u32) -> u32 {
  return min(step.pos + t + 1u, params.n_slots);
}

@compute @workgroup_size(WG)
fn partial(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  if (wid.y >= step.n_tokens) {
    return;
  }
  partial_main(wid.x, wid.y, wid.z, lid, row_slots(wid.y));
}

@compute @workgroup_size(WG)
fn partial_direct(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  if (wid.y >= step.n_tokens) {
    return;
  }
  direct_main(wid.x, wid.y, lid, row_slots(wid.y));
}

@compute @workgroup_size(WG)
fn combine(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  if (wid.y >= step.n_tokens) {
    return;
  }
  combine_main(wid.x, wid.y, lid, row_slots(wid.y));
}
