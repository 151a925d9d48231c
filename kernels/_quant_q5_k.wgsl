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

// dot32: sub-block j = sub (0..7) is one 32-element scale group: its scale
// and min are decoded once, and the min term uses Σx.
fn dot32(base: u32, sub: u32, xs: X32) -> f32 {
  let dm = unpack2x16float(wq[base >> 2u]);
  let sm = k_scale_min(base + 4u, sub);
  let h = (base + 16u) >> 2u;
  let i = (base + 48u + 32u * (sub >> 1u)) >> 2u;
  let shift = 4u * (sub & 1u);
  let lo = dot16(
    nib4(wq[i], shift) + 16.0 * bit4(wq[h], sub),
    nib4(wq[i + 1u], shift) + 16.0 * bit4(wq[h + 1u], sub),
    nib4(wq[i + 2u], shift) + 16.0 * bit4(wq[h + 2u], sub),
    nib4(wq[i + 3u], shift) + 16.0 * bit4(wq[h + 3u], sub),
    xs.lo,
  );
  let hi = dot16(
    nib4(wq[i + 4u], shift) + 16.0 * bit4(wq[h + 4u], sub),
    nib4(wq[i + 5u], shift) + 16.0 * bit4(wq[h + 5u], sub),
    nib4(wq[i + 6u], shift) + 16.0 * bit4(wq[h + 6u], sub),
    nib4(wq[i + 7u], shift) + 16.0 * bit4(wq[h + 7u], sub),
    xs.hi,
  );
  return dm.x * sm.x * (lo + hi) - dm.y * sm.y * xs.sum;
}
