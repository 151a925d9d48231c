// kv_write_slot: a decode step writes its token into each KV head's free slot
// (src/reference/kv/kv_layer.ts `append`):
//   f = state.free[h];  k_cache[h][f] = k[h];  v_cache[h][f] = v[h];
//   pos[h][f] = step.pos;  score[h][f] = written_score(h)
// (the layer's score snippet, kernels/_score_*.wgsl: 0 for the attention scores,
// others may score the stored key, e.g. by its norm; src/gpu/ops/kv_score.ts)
// (K and V stored in their element formats: exact for f32, nearest f16 for f16.)
// Concatenated after the keys' and the values' element formats (_kv_elem_f32.wgsl
// or _kv_elem_f16.wgsl as KVec, k_store and VVec, v_store), STEP_WGSL, _kv_state.wgsl and
// the score snippet's write section by the host.
// Bindings (group 0):
//   0 k:       storage, read        array<vec4f>  n_head_kv × HEAD_DIM (this token, rotated)
//   1 v:       storage, read        array<vec4f>  n_head_kv × HEAD_DIM
//   2 k_cache: storage, read_write  array<KVec>   n_head_kv × n_slots × HEAD_DIM
//   3 v_cache: storage, read_write  array<VVec>   n_head_kv × n_slots × HEAD_DIM
//   4 pos:     storage, read_write  array<i32>  n_head_kv × n_slots
//   5 score:   storage, read_write  array<f32>  n_head_kv × n_slots
//   6 state:   storage, read        array<u32>  4 + n_head_kv (free slots at 4..)
//   7 step:    uniform Step (pos used)
//   8 params:  uniform Params { n_head_kv, n_slots }
// Override: HEAD_DIM (a multiple of 4). Workgroup size 64; one invocation per
// 4 elements (one KVec and one VVec) of a head; x = ceil(n_head_kv·HEAD_DIM / 256). A free
// slot at or past n_slots (a full uncompressed layer) is skipped: the host must
// not step past the capacity.
// Exact copy for f32; f16: each element rounded to nearest even.

override HEAD_DIM: u32 = 64u;

struct Params { n_head_kv: u32, n_slots: u32 }

@group(0) @binding(0) var<storage, read> k: array<vec4f>;
@group(0) @binding(1) var<storage, read> v: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> k_cache: array<KVec>;
@group(0) @binding(3) var<storage, read_write> v_cache: array<VVec>;
@group(0) @binding(4) var<storage, read_write> pos: array<i32>;
@group(0) @binding(5) var<storage, read_write> score: array<f32>;
@group(0) @binding(6) var<storage, read> state: array<u32>;
@group(0) @binding(7) var<uniform> step: Step;
@group(0) @binding(8) var<uniform> params: Params;

// For the score snippet: the L2 norm of KV head h's key as the cache stores it (f32,
// elements in order; src/reference/kv/scores.ts `keyNormF32`).
fn written_key_norm(h: u32) -> f32 {
  let d4 = HEAD_DIM / 4u;
  var n2 = 0.0;
  for (var d = 0u; d < d4; d++) {
    n2 = add_squares(n2, k_load(k_store(k[h * d4 + d])));
  }
  return sqrt(n2);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let d4 = HEAD_DIM / 4u;
  let i = gid.x;
  if (i >= params.n_head_kv * d4) {
    return;
  }
  let h = i / d4;
  let d = i % d4;
  let slot = state[STATE_FREE + h];
  if (slot >= params.n_slots) {
    return;
  }
  let cell = h * params.n_slots + slot;
  k_cache[cell * d4 + d] = k_store(k[i]);
  v_cache[cell * d4 + d] = v_store(v[i]);
  if (d == 0u) {
    pos[cell] = i32(step.pos);
    score[cell] = written_score(h);
  }
}
