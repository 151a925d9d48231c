// attention_decode: one query token over the n_kv valid cache slots, with
// grouped-query heads; optionally adds each slot's attention probability,
// summed over the KV head's query heads, into an accumulated score buffer
// (H2O/D2O importance).
//   s_j = q·k_j / sqrt(head_dim) for slots j < min(step.n_kv − kv_offset, n_slots)
//   (kv_offset: positions a compressed cache dropped, so the occupied slots are a prefix);
//   out = Σ_j softmax(s)_j · v_j;  scores[g][j] += Σ_{h in group g} exp(s_h,j − lse_h)
//   Query head h reads KV head g = ⌊h / G⌋. Causality comes from only valid slots being present.
// Concatenated after the keys' and the values' element formats (_kv_elem_f32.wgsl
// or _kv_elem_f16.wgsl as KVec, k_load and VVec, v_load), the Step struct (STEP_WGSL) and
// _attention.wgsl (the core, Params and overrides) by the host. Entry points, run in order:
//   partial: one workgroup per (KV head, slot chunk); x = n_head_kv, z = n_chunks =
//            ceil(n_slots / CHUNK); chunks past n_kv return. Each workgroup reads its
//            key and value rows once for all G query heads.
//   combine: one workgroup per query head; x = n_head.
//   (partial_direct replaces both when n_chunks = 1: one workgroup per KV head,
//   x = n_head_kv, writing out and lse directly.)
//   add_scores (only when scores are wanted): one workgroup per (KV head, slot chunk);
//            x = n_head_kv, z = n_chunks; recomputes q·k and adds the probabilities.
//            Each slot belongs to one invocation, so no atomics are needed.
// Bindings (group 0; each entry point's auto layout holds the ones it uses):
//   0 q:        storage, read        array<f32>  n_head × HEAD_DIM (rotated)
//   1 k_cache:  storage, read        array<KVec>  n_head_kv × n_slots × HEAD_DIM (rotated; f32 or f16)
//   2 v_cache:  storage, read        array<VVec>  n_head_kv × n_slots × HEAD_DIM (f32 or f16)
//   3 out:      storage, read_write  array<vec4f> n_head × HEAD_DIM
//   4 lse:      storage, read_write  array<f32>  n_head (scratch, read by `add_scores`)
//   5 part_acc: storage, read_write  array<vec4f> n_head × n_chunks × HEAD_DIM (scratch)
//   6 part_ml:  storage, read_write  array<f32>  n_head × n_chunks × 2 (scratch)
//   7 step:     uniform Step (n_kv used)
//   8 params:   uniform Params { n_head, n_slots, scale, n_chunks, kv_offset }
//   9 scores:   storage, read_write  array<f32>  n_head_kv × n_slots (`add_scores` only)
// Tolerance vs the f64 CPU twin on the cache's values (f16: the halves it holds):
// NMSE ≤ ~3e-12 (measured up to n_kv = 8k), max abs ~1e-6 for unit-scale inputs
// (the f16 rounding itself moves the outputs by ≤ ~2e-3 there, tests/kernels/attention_test.ts);
// scores: relative ~1e-6.

@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> k_cache: array<KVec>;
@group(0) @binding(2) var<storage, read> v_cache: array<VVec>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> lse: array<f32>;
@group(0) @binding(5) var<storage, read_write> part_acc: array<vec4f>;
@group(0) @binding(6) var<storage, read_write> part_ml: array<f32>;
@group(0) @binding(7) var<uniform> step: Step;
@group(0) @binding(8) var<uniform> params: Params;
@group(0) @binding(9) var<storage, read_write> scores: array<f32>;

fn valid_slots() -> u32 {
  return min(step.n_kv - params.kv_offset, params.n_slots);
}

@compute @workgroup_size(WG)
fn partial(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  partial_main(wid.x, 0u, wid.z, lid, valid_slots());
}

@compute @workgroup_size(WG)
fn partial_direct(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  direct_main(wid.x, 0u, lid, valid_slots());
}

@compute @workgroup_size(WG)
fn combine(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  combine_main(wid.x, 0u, lid, valid_slots());
}

@compute @workgroup_size(WG)
fn add_scores(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let kvh = wid.x;
  let start = wid.z * CHUNK;
  let end = min(start + CHUNK, valid_slots());
  if (start >= end) {
    return;
  }
  load_q(lid, kvh * G * HEAD_DIM);
  workgroupBarrier();
  let kv_base = kvh * params.n_slots * D4;
  for (var slot = start + lid; slot < end; slot += WG) {
    var p = 0.0;
    for (var h = 0u; h < G; h++) {
      p += exp(score(h, kv_base + slot * D4) - lse[kvh * G + h]);
    }
    scores[kvh * params.n_slots + slot] += p;
  }
}
