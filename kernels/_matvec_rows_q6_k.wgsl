// _matvec_rows_q6_k.wgsl — Q6_K units of matvec_rows.wgsl: one 210-byte
// super-block (256 values) read in fourteen vec4 loads and realigned.
//
// Needs _quant_common.wgsl (dot16), _quant_q6_k.wgsl (q6x4),
// _matvec_rows_unit_x.wgsl (UNIT, UnitX: x.x0 .. x.x7 the sub-blocks' x̂) and
// _matvec_rows_unit_words.wgsl with BYTES (a block starts at any even byte:
// its words, u.w0 .. u.w13, are cut out of the fourteen vec4 from the one
// holding its first byte); defines unit_dot for the body. Block words 0..31
// are ql, 32..47 qh, 48..51 the 16 signed scales, the low half of 52 is d;
// sub-block j = 4h + q (h < 2, q < 4) reads ql words 16h + 8(q & 1) .. +8
// (nibble q >> 1), qh words 32 + 8h .. +8 (bits 2q), and the scales 2j,
// 2j + 1 (one per 16 values), as _quant_q6_k.wgsl lays out.

/**
 * Σ scale·Σ (code − 32)·x over one sub-block: ql words l0, l1 (low bits at
 * `ls`), qh words h0, h1 (high bits at `hs`), its two scale bytes the low
 * bytes of `sc`.
 */
fn q6k_sub(l0: vec4<u32>, l1: vec4<u32>, h0: vec4<u32>, h1: vec4<u32>, ls: u32, hs: u32, sc: u32, x: X32) -> f32 {
  let lo = dot16(q6x4(l0.x, h0.x, ls, hs), q6x4(l0.y, h0.y, ls, hs), q6x4(l0.z, h0.z, ls, hs), q6x4(l0.w, h0.w, ls, hs), x.lo);
  let hi = dot16(q6x4(l1.x, h1.x, ls, hs), q6x4(l1.y, h1.y, ls, hs), q6x4(l1.z, h1.z, ls, hs), q6x4(l1.w, h1.w, ls, hs), x.hi);
  let s0 = f32(bitcast<i32>(sc << 24u) >> 24u);
  let s1 = f32(bitcast<i32>(sc << 16u) >> 24u);
  return s0 * lo + s1 * hi;
}

/** Σ W·x over the super-block at byte `at` (2-byte aligned) of one row. */
fn unit_dot(at: u32, x: UnitX) -> f32 {
  let u = unit_words(at);
  let sc = u.w12;
  // d, the low half of word 52, lies in the last vec4 for every start (byte ≤ 14 + 209).
  let d = unpack2x16float(u.w13.x).x;
  let t0 = q6k_sub(u.w0, u.w1, u.w8, u.w9, 0u, 0u, sc.x, x.x0);
  let t1 = q6k_sub(u.w2, u.w3, u.w8, u.w9, 0u, 2u, sc.x >> 16u, x.x1);
  let t2 = q6k_sub(u.w0, u.w1, u.w8, u.w9, 4u, 4u, sc.y, x.x2);
  let t3 = q6k_sub(u.w2, u.w3, u.w8, u.w9, 4u, 6u, sc.y >> 16u, x.x3);
  let t4 = q6k_sub(u.w4, u.w5, u.w10, u.w11, 0u, 0u, sc.z, x.x4);
  let t5 = q6k_sub(u.w6, u.w7, u.w10, u.w11, 0u, 2u, sc.z >> 16u, x.x5);
  let t6 = q6k_sub(u.w4, u.w5, u.w10, u.w11, 4u, 4u, sc.w, x.x6);
  let t7 = q6k_sub(u.w6, u.w7, u.w10, u.w11, 4u, 6u, sc.w >> 16u, x.x7);
  return d * (((t0 + t1) + (t2 + t3)) + ((t4 + t5) + (t6 + t7)));
}
