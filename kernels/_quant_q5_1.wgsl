// _quant_q5_1.wgsl — Q5_1: f16 d, f16 m, u32 qh, 16 bytes of nibbles; value = code·d + m
//
// Defines for the op bodies: QK (elements per block), QB (bytes per block) and
// deq8(base, sub) -> V8: elements 8·sub .. 8·sub+7 of the block starting at
// byte `base` of `wq`, dequantized to f32 (sub in 0 .. QK/8-1).
// dot32(base, sub, xs) serves the mat-vec (see _quant_common.wgsl).
// Needs _quant_common.wgsl and _quant_q5.wgsl (the codes). Layout:
// docs/gguf-format.md §3.4.
// Matches the CPU dequantizer up to f32 rounding of the scale products.
// Codes as Q5_0. Blocks are 24 bytes, so `base` is 4-byte aligned.

const QK: u32 = 32u;
const QB: u32 = 24u;

/** The block's words 0..3 (`lo`: dm, qh, codes 0..7) and 2..5 (`hi`: the 16 code bytes); blocks are 8-byte aligned. */
fn q5_1_words(base: u32) -> W8 {
  let i = base >> 2u;
  let a = wq[i >> 2u];
  let b = wq[(i >> 2u) + 1u];
  return W8(pick4(a, b, i & 3u), pick4(a, b, (i & 3u) + 2u));
}

fn deq8(base: u32, sub: u32) -> V8 {
  let w = q5_1_words(base);
  let dm = unpack2x16float(w.lo.x);
  let c = q5_codes8(w.hi, w.lo.y, sub);
  return V8(c.lo * dm.x + dm.y, c.hi * dm.x + dm.y);
}

fn dot32(base: u32, sub: u32, xs: X32) -> f32 {
  let w = q5_1_words(base);
  let dm = unpack2x16float(w.lo.x);
  return dm.x * q5_dot_codes(w.hi, w.lo.y, xs) + dm.y * xs.sum;
}
