// _quant_q5_k.wgsl — Q5_K super-block: f16 d, f16 dmin, 12 scale bytes, qh[32], qs[128]; value = d·sc·code − dmin·mn
//
// Defines for the op bodies: QK (elements per block), QB (bytes per block) and
// deq8(base, sub) -> V8: elements 8·sub .. 8·sub+7 of the block starting at
// byte `base` of `wq`, dequantized to f32 (sub in 0 .. QK/8-1).
// dot32(base, sub, xs) serves the mat-vec (see _quant_common.wgsl).
// Needs _quant_common.wgsl. Layout: docs/gguf-format.md §3.7.
// Matches the CPU dequantizer up to f32 rounding of the scale products.
// Nibbles as Q4_K; the fifth bit of the elements of sub-block j at offset l
// within their 32 is bit j of qh[l]. Blocks are 176 bytes: `base` 4-byte aligned.

const QK: u32 = 256u;
const QB: u32 = 176u;

fn deq8(base: u32, sub: u32) -> V8 {
  let head = wq[base >> 4u];
  let dm = unpack2x16float(head.x);
  let j = sub >> 2u;
  let sm = k_scale_min(head.yzw, j);
  let scale = dm.x * sm.x;
  let offset = dm.y * sm.y;
  let l = 8u * (sub & 3u);
  let hv = wq[(base >> 4u) + 1u + (l >> 4u)];
  let h = select(hv.xy, hv.zw, (l & 8u) != 0u);
  let at = base + 48u + 32u * (sub >> 3u) + l;
  let qv = wq[at >> 4u];
  let q = select(qv.xy, qv.zw, (at & 8u) != 0u);
  let shift = 4u * (j & 1u);
  let lo = nib4(q.x, shift) + 16.0 * bit4(h.x, j);
  let hi = nib4(q.y, shift) + 16.0 * bit4(h.y, j);
  return V8(lo * scale - offset, hi * scale - offset);
}

// dot32: sub-block j = sub (0..7) is one 32-element scale group: its scale
// and min are decoded once, and the min term uses Σx.
fn dot32(base: u32, sub: u32, xs: X32) -> f32 {
  let i = base >> 4u;
  let head = wq[i];
  let dm = unpack2x16float(head.x);
  let sm = k_scale_min(head.yzw, sub);
  let ha = wq[i + 1u];
  let hb = wq[i + 2u];
  let qi = i + 3u + 2u * (sub >> 1u);
  let qa = wq[qi];
  let qb = wq[qi + 1u];
  let shift = 4u * (sub & 1u);
  let lo = dot16(
    nib4(qa.x, shift) + 16.0 * bit4(ha.x, sub),
    nib4(qa.y, shift) + 16.0 * bit4(ha.y, sub),
    nib4(qa.z, shift) + 16.0 * bit4(ha.z, sub),
    nib4(qa.w, shift) + 16.0 * bit4(ha.w, sub),
    xs.lo,
  );
  let hi = dot16(
    nib4(qb.x, shift) + 16.0 * bit4(hb.x, sub),
    nib4(qb.y, shift) + 16.0 * bit4(hb.y, sub),
    nib4(qb.z, shift) + 16.0 * bit4(hb.z, sub),
    nib4(qb.w, shift) + 16.0 * bit4(hb.w, sub),
    xs.hi,
  );
  return dm.x * sm.x * (lo + hi) - dm.y * sm.y * xs.sum;
}
