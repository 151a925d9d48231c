// _score_attention: the score of the policies that rank tokens by the attention
// they receive (h2o and d2o from every prompt query, snapkv and pyramidkv from an
// observation window: which queries count is the column sums' business,
// src/kv/score_source.ts). A prompt token scores its column sums summed over the
// KV head's query group; a new token starts at 0 and decode attention adds its
// share at every step. The contract of every _score_*.wgsl: src/gpu/ops/kv_score.ts.
// @if prompt
fn prompt_score(g: u32, j: u32) -> f32 {
  return group_column_sum(g, j);
}
// @end prompt
// @if write
fn written_score(h: u32) -> f32 {
  return 0.0;
}
// @end write
