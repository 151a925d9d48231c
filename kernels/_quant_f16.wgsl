// _quant_f16.wgsl — IEEE binary16 weights, seen as 8-element blocks
//
// Defines for the op bodies: QK (elements per block), QB (bytes per block) and
// deq8(base, sub) -> V8: elements 8·sub .. 8·sub+7 of the block starting at
// byte `base` of `wq`, dequantized to f32 (sub in 0 .. QK/8-1).
// Needs _quant_common.wgsl. Layout: shared/docs/gguf-format.md §3.12.
// Matches the CPU dequantizer up to f32 rounding of the scale products.
// Invariant: cols is a multiple of 8 (so every row starts 16-byte aligned).

const QK: u32 = 8u;
const QB: u32 = 16u;

fn deq8(base: u32, sub: u32) -> V8 {
  let i = base >> 2u;
  return V8(
    vec4<f32>(unpack2x16float(wq[i]), unpack2x16float(wq[i + 1u])),
    vec4<f32>(unpack2x16float(wq[i + 2u]), unpack2x16float(wq[i + 3u])),
  );
}
