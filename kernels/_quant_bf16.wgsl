// _quant_bf16.wgsl — bfloat16 weights (top half of an f32), seen as 8-element blocks
//
// Defines for the op bodies: QK (elements per block), QB (bytes per block) and
// deq8(base, sub) -> V8: elements 8·sub .. 8·sub+7 of the block starting at
// byte `base` of `wq`, dequantized to f32 (sub in 0 .. QK/8-1).
// dot32(base, sub, xs) serves the mat-vec (see _quant_common.wgsl).
// Needs _quant_common.wgsl. Layout: docs/gguf-format.md §3.12.
// Matches the CPU dequantizer up to f32 rounding of the scale products.
// Any column count: a row of odd length ends mid-word, so the next row starts
// at a 2-byte offset (wq_row_u32x4 reads across the word boundary); the op bodies
// cut a partial last group of 8 with mask8.

const QK: u32 = 8u;
const QB: u32 = 16u;

/** Two bf16 values packed in one word, widened (lower-addressed first). */
fn bf16x2(w: u32) -> vec2<f32> {
  return vec2<f32>(bitcast<f32>(w << 16u), bitcast<f32>(w & 0xFFFF0000u));
}

fn deq8(base: u32, sub: u32) -> V8 {
  let w = wq_row_u32x4(base);
  return V8(
    vec4<f32>(bf16x2(w.x), bf16x2(w.y)),
    vec4<f32>(bf16x2(w.z), bf16x2(w.w)),
  );
}

fn dot32(base: u32, sub: u32, xs: X32) -> f32 {
  return dot32_by_deq8(base, sub, xs);
}
