// _quant_q5.wgsl — the 5-bit codes shared by Q5_0 and Q5_1: code = nibble + 16·(fifth bit)
//
// Needs _quant_common.wgsl; included before _quant_q5_0.wgsl and
// _quant_q5_1.wgsl, which apply their scale (and offset) to these codes.
// `q` holds the block's 16 code bytes, `h` its 32 fifth bits (bit e belongs to
// element e). Nibble order as Q4_0: element l < 16 is the low nibble of byte
// l, element 16 + l the high nibble.

/** The codes of elements 8·sub .. 8·sub+7, as f32. */
fn q5_codes8(q: vec4<u32>, h: u32, sub: u32) -> V8 {
  let hs = h >> (8u * sub);
  let qs = select(q.xy, q.zw, (sub & 1u) == 1u);
  let shift = 4u * (sub >> 1u);
  return V8(nib4(qs.x, shift) + 16.0 * lowbits4(hs), nib4(qs.y, shift) + 16.0 * lowbits4(hs >> 4u));
}

/** Σ code·x over the block's 32 elements. */
fn q5_dot_codes(q: vec4<u32>, h: u32, xs: X32) -> f32 {
  let lo = dot16(
    nib4(q.x, 0u) + 16.0 * lowbits4(h),
    nib4(q.y, 0u) + 16.0 * lowbits4(h >> 4u),
    nib4(q.z, 0u) + 16.0 * lowbits4(h >> 8u),
    nib4(q.w, 0u) + 16.0 * lowbits4(h >> 12u),
    xs.lo,
  );
  let hi = dot16(
    nib4(q.x, 4u) + 16.0 * lowbits4(h >> 16u),
    nib4(q.y, 4u) + 16.0 * lowbits4(h >> 20u),
    nib4(q.z, 4u) + 16.0 * lowbits4(h >> 24u),
    nib4(q.w, 4u) + 16.0 * lowbits4(h >> 28u),
    xs.hi,
  );
  return lo + hi;
}
