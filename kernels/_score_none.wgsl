// _score_none: no score of its own (streaming, full): a prompt token and a new
// token start at 0, so the prompt's selection keeps the sinks, the recent window
// and, among equal scores, the oldest positions. The contract of every
// _score_*.wgsl: src/gpu/ops/kv_score.ts.
// @if prompt
fn prompt_score(g: u32, j: u32) -> f32 {
  return 0.0;
}
// @end prompt
// @if write
fn written_score(h: u32) -> f32 {
  return 0.0;
}
// @end write
