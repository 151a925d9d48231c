// _quant_q5_k.wgsl — Q5_K super-block: f16 d, f16 dmin, 12 scale bytes, qh[32], qs[128]; value = d·sc·code − dmin·mn
//
// Defines for the op bodies: QK (elements per block), QB (bytes per block) and
// deq8(base, sub) -> V8: elements 8·sub .. 8·sub+7 of the block starting at
// byte `base` of `wq`, dequantized to f32 (sub in 0 .. QK/8-1).
// Needs _quant_common.wgsl. Layout: shared/docs/gguf-format.md §3.7.
// Matches the CPU dequantizer up to f32 rounding of the scale products.
// Nibbles as Q4_K; the fifth bit of the elements of sub-block j at offset l
// within their 32 is bit j of qh[l]. Blocks are 176 bytes: `base` 4-byte aligned.

const QK: u32 = 256u;
const QB: u32 = 176u;

fn deq8(base: u32, sub: u32) -> V8 {
  let dm = unpack2x16float(wq[base >> 2u]);
  let j = sub >> 2u;
  let sm = k_scale_min(base + 4u, j);
  let scale = dm.x * sm.x;
  let offset = dm.y * sm.y;
  let l = 8u * (sub & 3u);
  let hat = (base + 16u + l) >> 2u;
  let h = vec2<u32>(wq[hat], wq[hat + 1u]);
  let qat = (base + 48u + 32u * (sub >> 3u) + l) >> 2u;
  let q = vec2<u32>(wq[qat], wq[qat + 1u]);
  let shift = 4u * (j & 1u);
  let lo = nib4(q.x, shift) + 16.0 * bit4(h.x, j);
  let hi = nib4(q.y, shift) + 16.0 * bit4(h.y, j);
  return V8(lo * scale - offset, hi * scale - offset);
}
