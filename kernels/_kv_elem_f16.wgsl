// _kv_elem_f16: a KV cache's element format for type "f16": IEEE binary16,
// little-endian, element i of the cache at bytes 2i .. 2i+1 (llama.cpp's f16
// cache layout; 2 bytes per element). The same contract as _kv_elem_f32.wgsl
// (KvVec = 4 consecutive elements of a row, kv_load, kv_store; renamed for K
// and for V by the host); here a KvVec is two u32 words of two halves each
// (element 4j + 0 in the low half of word 0), read with unpack2x16float and
// written with pack2x16float: core WGSL, so no `shader-f16` feature is needed.
//   kv_load:  exact (every f16 is an f32)
//   kv_store: rounds each f32 to the nearest f16, ties to even (what the
//             adapters tested do; WGSL allows either neighbour). Magnitudes
//             past 65504 have no f16: the stored value is then undefined.
// A KvVec is written whole by one invocation, so no two invocations share a word.

alias KvVec = vec2<u32>;

fn kv_load(x: KvVec) -> vec4f {
  return vec4f(unpack2x16float(x.x), unpack2x16float(x.y));
}

fn kv_store(x: vec4f) -> KvVec {
  return KvVec(pack2x16float(x.xy), pack2x16float(x.zw));
}
