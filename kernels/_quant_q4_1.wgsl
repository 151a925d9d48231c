// _quant_q4_1.wgsl — Q4_1: f16 d, f16 m, 16 bytes of nibbles; value = code·d + m
//
// Defines for the op bodies: QK (elements per block), QB (bytes per block) and
// deq8(base, sub) -> V8: elements 8·sub .. 8·sub+7 of the block starting at
// byte `base` of `wq`, dequantized to f32 (sub in 0 .. QK/8-1).
// dot32(base, sub, xs) serves the mat-vec (see _quant_common.wgsl).
// Needs _quant_common.wgsl. Layout: docs/gguf-format.md §3.2.
// Matches the CPU dequantizer up to f32 rounding of the scale products.
// Nibble order as Q4_0. Blocks are 20 bytes, so `base` is 4-byte aligned.

const QK: u32 = 32u;
const QB: u32 = 20u;

/** The block's words 0..3 (`first`: dm, then codes 0..11) and 2..5 (the 16 code bytes). */
fn q4_1_words(base: u32) -> W8 {
  let i = base >> 2u;
  let a = wq[i >> 2u];
  let b = wq[(i >> 2u) + 1u];
  return W8(pick4(a, b, i & 3u), pick4(a, b, (i & 3u) + 1u));
}

fn deq8(base: u32, sub: u32) -> V8 {
  let w = q4_1_words(base);
  let dm = unpack2x16float(w.lo.x);
  let q = select(w.hi.xy, w.hi.zw, (sub & 1u) == 1u);
  let shift = 4u * (sub >> 1u);
  return V8(nib4(q.x, shift) * dm.x + dm.y, nib4(q.y, shift) * dm.x + dm.y);
}

// dot32: elements 0..15 are the low nibbles of the 16 code bytes, 16..31 the high ones.
fn dot32(base: u32, sub: u32, xs: X32) -> f32 {
  let w = q4_1_words(base);
  let dm = unpack2x16float(w.lo.x);
  let q = w.hi;
  let lo = dot16(nib4(q.x, 0u), nib4(q.y, 0u), nib4(q.z, 0u), nib4(q.w, 0u), xs.lo);
  let hi = dot16(nib4(q.x, 4u), nib4(q.y, 4u), nib4(q.z, 4u), nib4(q.w, 4u), xs.hi);
  return dm.x * (lo + hi) + dm.y * xs.sum;
}
