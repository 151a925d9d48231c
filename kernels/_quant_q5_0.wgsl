// _quant_q5_0.wgsl — Q5_0: f16 d, u32 qh (fifth bits), 16 bytes of nibbles; value = (code − 16)·d
//
// Defines for the op bodies: QK (elements per block), QB (bytes per block) and
// deq8(base, sub) -> V8: elements 8·sub .. 8·sub+7 of the block starting at
// byte `base` of `wq`, dequantized to f32 (sub in 0 .. QK/8-1).
// dot32(base, sub, xs) serves the mat-vec (see _quant_common.wgsl).
// Needs _quant_common.wgsl and _quant_q5.wgsl (the codes). Layout:
// docs/gguf-format.md §3.3.
// Matches the CPU dequantizer up to f32 rounding of the scale products.
// Nibble order as Q4_0; bit e of qh is the fifth bit of element e.

const QK: u32 = 32u;
const QB: u32 = 22u;

/** The block's fields from one 32-byte read: d, the 32 high bits, the 16 code bytes. */
struct Q50 {
  d: f32,
  h: u32,
  q: vec4<u32>,
}

fn q5_0_block(base: u32) -> Q50 {
  let w = wq_u32x8(base);
  let h = (w.lo.x >> 16u) | (w.lo.y << 16u);
  let q = funnel(vec4<u32>(w.lo.yzw, w.hi.x), vec4<u32>(w.lo.zw, w.hi.xy), 2u);
  return Q50(unpack2x16float(w.lo.x).x, h, q);
}

fn deq8(base: u32, sub: u32) -> V8 {
  let b = q5_0_block(base);
  let c = q5_codes8(b.q, b.h, sub);
  return V8((c.lo - 16.0) * b.d, (c.hi - 16.0) * b.d);
}

fn dot32(base: u32, sub: u32, xs: X32) -> f32 {
  let b = q5_0_block(base);
  return b.d * (q5_dot_codes(b.q, b.h, xs) - 16.0 * xs.sum);
}
