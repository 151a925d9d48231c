// _score_knorm: minus the L2 norm of the token's key as the cache stores it
// (kvpress's KnormPress): the keys with the largest norms rank lowest and go
// first, at the prompt's compression and at each decode step; attention is never
// read. The norm is compared at bfloat16 precision (8 significant bits, rounded to
// nearest even): a token recurring in the first layer has one key up to its
// rotation, whose norm the rounding of the projections and the rotation moves by a
// few f32 ulps, differently on each path (prompt or decode rows, alone or in a
// batch, GPU or twin); at 8 bits those copies tie and the older stays, on every
// path. The contract of every _score_*.wgsl: src/gpu/ops/kv_score.ts.

// x rounded to bfloat16, to nearest even (x finite and ≥ 0).
fn knorm_bf16(x: f32) -> f32 {
  let b = bitcast<u32>(x);
  return bitcast<f32>((b + 0x7fffu + ((b >> 16u) & 1u)) & 0xffff0000u);
}

// @if prompt
fn prompt_score(g: u32, j: u32) -> f32 {
  return -knorm_bf16(staging_key_norm(g, j));
}
// @end prompt
// @if write
fn written_score(h: u32) -> f32 {
  return -knorm_bf16(written_key_norm(h));
}
// @end write
