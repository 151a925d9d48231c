// _quant_q4_0.wgsl — Q4_0: f16 d, 16 bytes of nibbles; value = (code − 8)·d
//
// Defines for the op bodies: QK (elements per block), QB (bytes per block) and
// deq8(base, sub) -> V8: elements 8·sub .. 8·sub+7 of the block starting at
// byte `base` of `wq`, dequantized to f32 (sub in 0 .. QK/8-1).
// dot32(base, sub, xs) serves the mat-vec (see _quant_common.wgsl).
// Needs _quant_common.wgsl. Layout: docs/gguf-format.md §3.1.
// Matches the CPU dequantizer up to f32 rounding of the scale products.
// Element j (0..15) is the low nibble of qs[j], element j+16 its high nibble:
// sub 0,1 read the low nibbles of qs[0..7], qs[8..15]; sub 2,3 the high ones.

const QK: u32 = 32u;
const QB: u32 = 18u;

fn deq8(base: u32, sub: u32) -> V8 {
  let d = wq_f16(base);
  let q = wq_u32x2(base + 2u + 8u * (sub & 1u));
  let shift = 4u * (sub >> 1u);
  return V8((nib4(q.x, shift) - 8.0) * d, (nib4(q.y, shift) - 8.0) * d);
}

// dot32: elements 0..15 are the low nibbles of the 16 code bytes, 16..31 the high ones.
fn dot32(base: u32, sub: u32, xs: X32) -> f32 {
  let q = wq_u32x4(base + 2u);
  let lo = dot16(nib4(q.x, 0u), nib4(q.y, 0u), nib4(q.z, 0u), nib4(q.w, 0u), xs.lo);
  let hi = dot16(nib4(q.x, 4u), nib4(q.y, 4u), nib4(q.z, 4u), nib4(q.w, 4u), xs.hi);
  return wq_f16(base) * (lo + hi - 8.0 * xs.sum);
}
