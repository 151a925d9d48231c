// _quant_f32.wgsl — plain f32 weights, seen as 8-element blocks
//
// Defines for the op bodies: QK (elements per block), QB (bytes per block) and
// deq8(base, sub) -> V8: elements 8·sub .. 8·sub+7 of the block starting at
// byte `base` of `wq`, dequantized to f32 (sub in 0 .. QK/8-1).
// Needs _quant_common.wgsl. Layout: shared/docs/gguf-format.md §3.12.
// Matches the CPU dequantizer up to f32 rounding of the scale products.
// Any column count: rows are 4-byte aligned; the op bodies cut a partial last
// group of 8 with mask8 (its reads past the row end are never used).

const QK: u32 = 8u;
const QB: u32 = 32u;

fn deq8(base: u32, sub: u32) -> V8 {
  let i = base >> 2u;
  return V8(
    bitcast<vec4<f32>>(vec4<u32>(wq[i], wq[i + 1u], wq[i + 2u], wq[i + 3u])),
    bitcast<vec4<f32>>(vec4<u32>(wq[i + 4u], wq[i + 5u], wq[i + 6u], wq[i + 7u])),
  );
}

fn dot32(base: u32, sub: u32, xs: X32) -> f32 {
  return dot32_by_deq8(base, sub, xs);
}
