// _quant_f32.wgsl — plain f32 weights, seen as 8-element blocks
//
// Defines for the op bodies: QK (elements per block), QB (bytes per block) and
// deq8(base, sub) -> V8: elements 8·sub .. 8·sub+7 of the block starting at
// byte `base` of `wq`, dequantized to f32 (sub in 0 .. QK/8-1).
// dot32(base, sub, xs) serves the mat-vec (see _quant_common.wgsl).
// Needs _quant_common.wgsl. Layout: docs/gguf-format.md §3.12.
// Matches the CPU dequantizer up to f32 rounding of the scale products.
// Any column count: rows are 4-byte aligned; the op bodies cut a partial last
// group of 8 with mask8 (its reads past the row end are never used).

const QK: u32 = 8u;
const QB: u32 = 32u;

fn deq8(base: u32, sub: u32) -> V8 {
  if (ROWS_ALIGNED) {
    let i = base >> 4u;
    return V8(bitcast<vec4<f32>>(wq[i]), bitcast<vec4<f32>>(wq[i + 1u]));
  }
  let w = wq_u32x8(base);
  return V8(bitcast<vec4<f32>>(w.lo), bitcast<vec4<f32>>(w.hi));
}

fn dot32(base: u32, sub: u32, xs: X32) -> f32 {
  return dot32_by_deq8(base, sub, xs);
}
