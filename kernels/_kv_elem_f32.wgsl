// _kv_elem_f32: a KV cache's element format for type "f32" (4 bytes per
// element). src/gpu/ops/kv_elem.ts puts this snippet (or _kv_elem_f16.wgsl)
// first in every kernel that reads or writes a K or V cache, twice, without
// these comments: for the keys' type with the names below turned into KVec,
// k_load, k_store, and for the values' type into VVec, v_load, v_store (K and V
// may differ, as llama.cpp's -ctk and -ctv). So each kernel is written once for
// every pair of formats.
// A cache [n_head_kv][n_slots][head_dim] is declared `array<KvVec>`: one KvVec
// holds 4 consecutive elements of a row. head_dim is a multiple of 4, so a row
// is head_dim / 4 whole KvVecs, row r starts at KvVec r · head_dim / 4, and no
// two invocations ever write one KvVec. Kernels touch cache elements only through:
//   kv_load(x: KvVec) -> vec4f    the 4 elements as f32 (exact)
//   kv_store(x: vec4f) -> KvVec   what the cache holds for them (here: exact)
// Arithmetic on cache rows stays f32 in every format.

alias KvVec = vec4<f32>;

fn kv_load(x: KvVec) -> vec4f {
  return x;
}

fn kv_store(x: vec4f) -> KvVec {
  return x;
}
