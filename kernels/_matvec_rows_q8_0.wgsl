// _matvec_rows_q8_0.wgsl — Q8_0 units of matvec_rows.wgsl: four 34-byte blocks
// (128 values, 136 bytes) read in nine vec4 loads.
//
// Needs _quant_common.wgsl, _quant_q8_0.wgsl, _matvec_rows_unit_x.wgsl (UNIT,
// UnitX: x.x0 .. x.x3 the blocks' x̂) and _matvec_rows_unit_words.wgsl with
// HALVES (the unit's words, u.w0 .. u.w8); defines unit_dot for the body. Host
// requirement: cols % 128 = 0, so rows and units start 8-byte aligned
// (row_bytes = 34·cols/32 is a multiple of 8): a unit is words 0..33 or 2..35
// of its nine vec4. In unit words W0..W33, blocks
// 0 and 2 start word-aligned (d in the low half of W0/W17, codes from the high
// half on: two bytes into the word), blocks 1 and 3 start halfway (d in the
// high half of W8/W25, codes word-aligned from W9/W26).

/** Σ code·x of a block whose 32 code bytes are the words a, b. */
fn q8_aligned(a: vec4<u32>, b: vec4<u32>, x: X32) -> f32 {
  return dot16(i8x4(a.x), i8x4(a.y), i8x4(a.z), i8x4(a.w), x.lo) +
    dot16(i8x4(b.x), i8x4(b.y), i8x4(b.z), i8x4(b.w), x.hi);
}

/**
 * Σ code·x of a block whose codes start two bytes into word h: bytes 2, 3 of
 * h, the words a and b, then bytes 0, 1 of e.
 */
fn q8_halfway(h: u32, a: vec4<u32>, b: vec4<u32>, e: u32, x: X32) -> f32 {
  let l = x.lo;
  let k = x.hi;
  let ends = dot(i8x4(h).zw, l[0].xy) + dot(i8x4(e).xy, k[3].zw);
  return ends + dot(i8x4(a.x), vec4<f32>(l[0].zw, l[1].xy)) +
    dot(i8x4(a.y), vec4<f32>(l[1].zw, l[2].xy)) + dot(i8x4(a.z), vec4<f32>(l[2].zw, l[3].xy)) +
    dot(i8x4(a.w), vec4<f32>(l[3].zw, k[0].xy)) + dot(i8x4(b.x), vec4<f32>(k[0].zw, k[1].xy)) +
    dot(i8x4(b.y), vec4<f32>(k[1].zw, k[2].xy)) + dot(i8x4(b.z), vec4<f32>(k[2].zw, k[3].xy));
}

/** Σ W·x over the unit at byte `at` (8-byte aligned) of one row. */
fn unit_dot(at: u32, x: UnitX) -> f32 {
  let u = unit_words(at);
  let b0 = q8_halfway(u.w0.x, vec4<u32>(u.w0.yzw, u.w1.x), vec4<u32>(u.w1.yzw, u.w2.x), u.w2.x, x.x0);
  let b1 = q8_aligned(vec4<u32>(u.w2.yzw, u.w3.x), vec4<u32>(u.w3.yzw, u.w4.x), x.x1);
  let b2 = q8_halfway(u.w4.y, vec4<u32>(u.w4.zw, u.w5.xy), vec4<u32>(u.w5.zw, u.w6.xy), u.w6.y, x.x2);
  let b3 = q8_aligned(vec4<u32>(u.w6.zw, u.w7.xy), vec4<u32>(u.w7.zw, u.w8.xy), x.x3);
  return unpack2x16float(u.w0.x).x * b0 + unpack2x16float(u.w2.x).y * b1 +
    unpack2x16float(u.w4.y).x * b2 + unpack2x16float(u.w6.y).y * b3;
}
