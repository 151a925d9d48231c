// _quant_f16.wgsl — IEEE binary16 weights, seen as 8-element blocks
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

fn deq8(base: u32, sub: u32) -> V8 {
  let w = wq_row_u32x4(base);
  return V8(
    vec4<f32>(unpack2x16float(w.x), unpack2x16float(w.y)),
    vec4<f32>(unpack2x16float(w.z), unpack2x16float(w.w)),
  );
}

fn dot32(base: u32, sub: u32, xs: X32) -> f32 {
  return dot32_by_deq8(base, sub, xs);
}
