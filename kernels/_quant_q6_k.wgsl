// _quant_q6_k.wgsl — Q6_K super-block: ql[128], qh[64], 16 signed scales, f16 d; value = d·sc·(code − 32)
//
// Defines for the op bodies: QK (elements per block), QB (bytes per block) and
// deq8(base, sub) -> V8: elements 8·sub .. 8·sub+7 of the block starting at
// byte `base` of `wq`, dequantized to f32 (sub in 0 .. QK/8-1).
// dot32(base, sub, xs) serves the mat-vec (see _quant_common.wgsl).
// Needs _quant_common.wgsl. Layout: docs/gguf-format.md §3.10.
// Matches the CPU dequantizer up to f32 rounding of the scale products.
// Element 128h + 32q + l (quarter q < 4, l < 32): low 4 bits from
// ql[64h + l + 32·(q&1)] (nibble q>>1), high 2 bits from qh[32h + l] (bits 2q),
// scale index 8h + 2q + l/16 = element/16. Blocks are 210 bytes: `base` is
// only 2-byte aligned.

const QK: u32 = 256u;
const QB: u32 = 210u;

/** Four 6-bit codes minus 32: low bits from `ql` (nibble at `ls`), high from `qh` (2 bits at `hs`). */
fn q6x4(ql: u32, qh: u32, ls: u32, hs: u32) -> vec4<f32> {
  return u8x4(((ql >> ls) & 0x0F0F0F0Fu) | (((qh >> hs) & 0x03030303u) << 4u)) - 32.0;
}

fn deq8(base: u32, sub: u32) -> V8 {
  let half = sub >> 4u;
  let quarter = (sub >> 2u) & 3u;
  let l = 8u * (sub & 3u);
  let ql = wq_u32x2(base + 64u * half + l + 32u * (quarter & 1u));
  let qh = wq_u32x2(base + 128u + 32u * half + l);
  let ls = 4u * (quarter >> 1u);
  let hs = 2u * quarter;
  let scale = wq_f16(base + 208u) * f32(wq_i8(base + 192u + (sub >> 1u)));
  return V8(q6x4(ql.x, qh.x, ls, hs) * scale, q6x4(ql.y, qh.y, ls, hs) * scale);
}

// dot32: the 32 elements 32·sub .. share ql/qh byte ranges and two 16-element
// scales (elements 0..15 and 16..31), each applied once.
fn dot32(base: u32, sub: u32, xs: X32) -> f32 {
  let half = sub >> 2u;
  let quarter = sub & 3u;
  let ql = wq_u32x8(base + 64u * half + 32u * (quarter & 1u));
  let qh = wq_u32x8(base + 128u + 32u * half);
  let ls = 4u * (quarter >> 1u);
  let hs = 2u * quarter;
  let a = ql.lo;
  let b = qh.lo;
  let c = ql.hi;
  let d = qh.hi;
  let lo = dot16(q6x4(a.x, b.x, ls, hs), q6x4(a.y, b.y, ls, hs), q6x4(a.z, b.z, ls, hs), q6x4(a.w, b.w, ls, hs), xs.lo);
  let hi = dot16(q6x4(c.x, d.x, ls, hs), q6x4(c.y, d.y, ls, hs), q6x4(c.z, d.z, ls, hs), q6x4(c.w, d.w, ls, hs), xs.hi);
  // The two scale bytes share one word (their offset is even).
  let at = base + 192u + 2u * sub;
  let sc = wq_word(at >> 2u) >> (8u * (at & 3u));
  let s0 = f32(bitcast<i32>(sc << 24u) >> 24u);
  let s1 = f32(bitcast<i32>(sc << 16u) >> 24u);
  return wq_f16(base + 208u) * (s0 * lo + s1 * hi);
}
