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
