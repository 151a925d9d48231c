// _quant_q8_0.wgsl — Q8_0: f16 d, 32 signed bytes; value = q·d
//
// Defines for the op bodies: QK (elements per block), QB (bytes per block) and
// deq8(base, sub) -> V8: elements 8·sub .. 8·sub+7 of the block starting at
// byte `base` of `wq`, dequantized to f32 (sub in 0 .. QK/8-1).
// dot32(base, sub, xs) serves the mat-vec (see _quant_common.wgsl).
// Needs _quant_common.wgsl. Layout: docs/gguf-format.md §3.5.
// Matches the CPU dequantizer up to f32 rounding of the scale products.

const QK: u32 = 32u;
const QB: u32 = 34u;

fn deq8(base: u32, sub: u32) -> V8 {
  let d = wq_f16(base);
  let q = wq_u32x2(base + 2u + 8u * sub);
  return V8(i8x4(q.x) * d, i8x4(q.y) * d);
}

fn dot32(base: u32, sub: u32, xs: X32) -> f32 {
  let q = wq_u32x8(base + 2u);
  let lo = dot16(i8x4(q.lo.x), i8x4(q.lo.y), i8x4(q.lo.z), i8x4(q.lo.w), xs.lo);
  let hi = dot16(i8x4(q.hi.x), i8x4(q.hi.y), i8x4(q.hi.z), i8x4(q.hi.w), xs.hi);
  return wq_f16(base) * (lo + hi);
}
