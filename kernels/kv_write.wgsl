// kv_write: copies this step's keys (already rotated) and values into the
// layer's cache: cache[h][slot_of(step.pos + t)][d] = store(new[t][h][d]),
// store = the cache's element format (exact for f32, nearest f16 for f16).
// Concatenated after the keys' and the values' element formats (_kv_elem_f32.wgsl
// or _kv_elem_f16.wgsl as KVec, k_store and VVec, v_store) and the Step struct (src/gpu/step.ts,
// STEP_WGSL) by the host.
// Bindings (group 0):
//   0 k_new:   storage, read        array<vec4f>  T × n_head_kv × head_dim
//   1 v_new:   storage, read        array<vec4f>  T × n_head_kv × head_dim
//   2 k_cache: storage, read_write  array<KVec>   n_head_kv × n_slots × head_dim
//   3 v_cache: storage, read_write  array<VVec>   n_head_kv × n_slots × head_dim
//   4 step:    uniform Step (pos, n_tokens used)
//   5 params:  uniform Params { n_head_kv, head_dim, n_slots } (head_dim a multiple of 4)
// Workgroup size 64; one invocation per 4 elements (one KVec and one VVec) of a (head, token):
// x = ceil(n_head_kv·head_dim / 256), y = the largest token count of a step
// (tokens t ≥ step.n_tokens return).
// Slots at or past n_slots are skipped (the host keeps positions inside the cache).
// Exact copy for f32; f16: each element rounded to nearest even.

struct Params { n_head_kv: u32, head_dim: u32, n_slots: u32 }

@group(0) @binding(0) var<storage, read> k_new: array<vec4f>;
@group(0) @binding(1) var<storage, read> v_new: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> k_cache: array<KVec>;
@group(0) @binding(3) var<storage, read_write> v_cache: array<VVec>;
@group(0) @binding(4) var<uniform> step: Step;
@group(0) @binding(5) var<uniform> params: Params;

// The cache slot that holds position `pos`. Full cache: slot = position; a slot
// table replaces this function when a KV policy evicts tokens.
fn slot_of(pos: u32) -> u32 {
  return pos;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let t = gid.y;
  let d4 = params.head_dim / 4u;
  let row = params.n_head_kv * d4;
  if (t >= step.n_tokens || gid.x >= row) {
    return;
  }
  let slot = slot_of(step.pos + t);
  if (slot >= params.n_slots) {
    return;
  }
  let h = gid.x / d4;
  let dst = (h * params.n_slots + slot) * d4 + gid.x % d4;
  k_cache[dst] = k_store(k_new[t * row + gid.x]);
  v_cache[dst] = v_store(v_new[t * row + gid.x]);
}
