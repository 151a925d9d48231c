// _matvec_rows_q5_0.wgsl — Q5_0 units of matvec_rows.wgsl: four 22-byte blocks
// (128 values, 88 bytes) read in six vec4 loads.
//
// Needs _quant_common.wgsl (u8x4, dot16), _quant_q5_0.wgsl,
// _matvec_rows_unit_x.wgsl (UNIT, UnitX: x.x0 .. x.x3 the blocks' x̂) and
// _matvec_rows_unit_words.wgsl with HALVES (the unit's words u.w0 .. u.w5);
// defines unit_dot for the body. A block's 5-bit codes are built a
// word (four codes) at a time: the four nibbles, and the four fifth bits
// spread to bit 4 of each byte by one multiply (b·0x00204081 puts bit k of a
// 4-bit b at bit 8k), then converted once: 1.2× the separate nibble and bit
// conversions of _quant_q5.wgsl's q5_dot_codes on lavapipe.
// Host requirement: cols % 128 = 0, so rows and units start 8-byte aligned
// (row_bytes = 22·cols/32 is a multiple of 8): a unit is words 0..21 or 2..23
// of its six vec4. In unit words W0..W21: block 0 = d in W0's low half, the
// fifth bits across W0/W1, codes W1.hi .. W5.lo; block 1 = d in W5's high
// half, bits W6, codes W7..W10; blocks 2 and 3 the same from W11 and W16.

/** Words w shifted down by two bytes, topped up from the words after them (n). */
fn q50_half_shift(w: vec4<u32>, n: vec4<u32>) -> vec4<u32> {
  return (w >> vec4<u32>(16u)) | (n << vec4<u32>(16u));
}

/** Four codes: nibbles at bit `s` of the bytes of q, plus 16 × bits 0..3 of h. */
fn q50_codes4(q: u32, s: u32, h: u32) -> vec4<f32> {
  let fifth = (((h & 0xFu) * 0x00204081u) & 0x01010101u) << 4u;
  return u8x4(((q >> s) & 0x0F0F0F0Fu) | fifth);
}

/** One block's d·(Σ code·x − 16·Σx): codes 0..15 the low nibbles of q, 16..31 the high. */
fn q50_dot(d: f32, h: u32, q: vec4<u32>, x: X32) -> f32 {
  let lo = dot16(
    q50_codes4(q.x, 0u, h),
    q50_codes4(q.y, 0u, h >> 4u),
    q50_codes4(q.z, 0u, h >> 8u),
    q50_codes4(q.w, 0u, h >> 12u),
    x.lo,
  );
  let hi = dot16(
    q50_codes4(q.x, 4u, h >> 16u),
    q50_codes4(q.y, 4u, h >> 20u),
    q50_codes4(q.z, 4u, h >> 24u),
    q50_codes4(q.w, 4u, h >> 28u),
    x.hi,
  );
  return d * (lo + hi - 16.0 * x.sum);
}

/** Σ W·x over the unit at byte `at` (8-byte aligned) of one row. */
fn unit_dot(at: u32, x: UnitX) -> f32 {
  let u = unit_words(at);
  let b0 = q50_dot(
    unpack2x16float(u.w0.x).x,
    (u.w0.x >> 16u) | (u.w0.y << 16u),
    q50_half_shift(vec4<u32>(u.w0.yzw, u.w1.x), vec4<u32>(u.w0.zw, u.w1.xy)),
    x.x0,
  );
  let b1 = q50_dot(unpack2x16float(u.w1.y).y, u.w1.z, vec4<u32>(u.w1.w, u.w2.xyz), x.x1);
  let b2 = q50_dot(
    unpack2x16float(u.w2.w).x,
    (u.w2.w >> 16u) | (u.w3.x << 16u),
    q50_half_shift(u.w3, vec4<u32>(u.w3.yzw, u.w4.x)),
    x.x2,
  );
  let b3 = q50_dot(unpack2x16float(u.w4.x).y, u.w4.y, vec4<u32>(u.w4.zw, u.w5.xy), x.x3);
  return (b0 + b1) + (b2 + b3);
}
