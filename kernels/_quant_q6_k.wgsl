// _quant_q6_k.wgsl — Q6_K super-block: ql[128], qh[64], 16 signed scales, f16 d; value = d·sc·(code − 32)
//
// Defines for the op bodies: QK (elements per block), QB (bytes per block) and
// deq8(base, sub) -> V8: elements 8·sub .. 8·sub+7 of the block starting at
// byte `base` of `wq`, dequantized to f32 (sub in 0 .. QK/8-1).
// Needs _quant_common.wgsl. Layout: shared/docs/gguf-format.md §3.10.
// Matches the CPU dequantizer up to f32 rounding of the scale products.
// Element 128h + 32q + l (quarter q < 4, l < 32): low 4 bits from
// ql[64h + l + 32·(q&1)] (nibble q>>1), high 2 bits from qh[32h + l] (bits 2q),
// scale index 8h + 2q + l/16 = element/16. Blocks are 210 bytes: `base` is
// only 2-byte aligned.

const QK: u32 = 256u;
const QB: u32 = 210u;

fn deq8(base: u32, sub: u32) -> V8 {
  let half = sub >> 4u;
  let quarter = (sub >> 2u) & 3u;
  let l = 8u * (sub & 3u);
  let ql = wq_u32x2(base + 64u * half + l + 32u * (quarter & 1u));
  let qh = wq_u32x2(base + 128u + 32u * half + l);
  let lshift = 4u * (quarter >> 1u);
  let hshift = 2u * quarter;
  let c0 = ((ql.x >> lshift) & 0x0F0F0F0Fu) | (((qh.x >> hshift) & 0x03030303u) << 4u);
  let c1 = ((ql.y >> lshift) & 0x0F0F0F0Fu) | (((qh.y >> hshift) & 0x03030303u) << 4u);
  let scale = wq_f16(base + 208u) * f32(wq_i8(base + 192u + (sub >> 1u)));
  return V8((u8x4(c0) - 32.0) * scale, (u8x4(c1) - 32.0) * scale);
}

/** Four 6-bit codes minus 32: low bits from `ql` (nibble at `ls`), high from `qh` (2 bits at `hs`). */
fn q6x4(ql: u32, qh: u32, ls: u32, hs: u32) -> vec4<f32> {
  return u8x4(((ql >> ls) & 0x0F0F0F0Fu) | (((qh >> hs) & 0x03030303u) << 4u)) - 32.0;
}

// dot32: the 32 elements 32·sub .. share ql/qh byte ranges and two 16-element
// scales (elements 0..15 and 16..31), each applied once.
fn dot32(base: u32, sub: u32, xs: X32) -> f32 {
  let half = sub >> 2u;
  let quarter = sub & 3u;
  let l0 = base + 64u * half + 32u * (quarter & 1u);
  let h0 = base + 128u + 32u * half;
  let ls = 4u * (quarter >> 1u);
  let hs = 2u * quarter;
  let la = wq_u32x4(l0);
  let lb = wq_u32x4(l0 + 16u);
  let ha = wq_u32x4(h0);
  let hb = wq_u32x4(h0 + 16u);
  let lo = dot16(q6x4(la.x, ha.x, ls, hs), q6x4(la.y, ha.y, ls, hs), q6x4(la.z, ha.z, ls, hs), q6x4(la.w, ha.w, ls, hs), xs.lo);
  let hi = dot16(q6x4(lb.x, hb.x, ls, hs), q6x4(lb.y, hb.y, ls, hs), q6x4(lb.z, hb.z, ls, hs), q6x4(lb.w, hb.w, ls, hs), xs.hi);
  let sc = base + 192u + 2u * sub;
  return wq_f16(base + 208u) * (f32(wq_i8(sc)) * lo + f32(wq_i8(sc + 1u)) * hi);
}
