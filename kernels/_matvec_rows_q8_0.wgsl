// _matvec_rows_q8_0.wgsl — Q8_0 units of matvec_rows.wgsl: four 34-byte blocks
// (128 values, 136 bytes) read in nine vec4 loads.
//
// Needs _quant_common.wgsl and _quant_q8_0.wgsl; defines UNIT, UnitX, unit_x
// and unit_dot for the body. Host requirement: cols % 128 = 0, so rows and
// units start 8-byte aligned (row_bytes = 34·cols/32 is a multiple of 8): a
// unit is words 0..33 or 2..35 of its nine vec4. In unit words W0..W33, blocks
// 0 and 2 start word-aligned (d in the low half of W0/W17, codes from the high
// half on: two bytes into the word), blocks 1 and 3 start halfway (d in the
// high half of W8/W25, codes word-aligned from W9/W26).

const UNIT: u32 = 128u;

/** The unit's x̂, one X32 per block. */
struct UnitX {
  x0: X32,
  x1: X32,
  x2: X32,
  x3: X32,
}

fn unit_x(c: u32) -> UnitX {
  return UnitX(x32_at(c), x32_at(c + 32u), x32_at(c + 64u), x32_at(c + 96u));
}

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
  let v = at >> 4u;
  let odd = (at & 8u) != 0u;
  let q0 = wq[v];
  let q1 = wq[v + 1u];
  let q2 = wq[v + 2u];
  let q3 = wq[v + 3u];
  let q4 = wq[v + 4u];
  let q5 = wq[v + 5u];
  let q6 = wq[v + 6u];
  let q7 = wq[v + 7u];
  let q8 = wq[v + 8u];
  // s<k> = unit words W[4k .. 4k+3].
  let s0 = select(q0, vec4<u32>(q0.zw, q1.xy), odd);
  let s1 = select(q1, vec4<u32>(q1.zw, q2.xy), odd);
  let s2 = select(q2, vec4<u32>(q2.zw, q3.xy), odd);
  let s3 = select(q3, vec4<u32>(q3.zw, q4.xy), odd);
  let s4 = select(q4, vec4<u32>(q4.zw, q5.xy), odd);
  let s5 = select(q5, vec4<u32>(q5.zw, q6.xy), odd);
  let s6 = select(q6, vec4<u32>(q6.zw, q7.xy), odd);
  let s7 = select(q7, vec4<u32>(q7.zw, q8.xy), odd);
  let s8 = select(q8.xy, q8.zw, odd);
  let b0 = q8_halfway(s0.x, vec4<u32>(s0.yzw, s1.x), vec4<u32>(s1.yzw, s2.x), s2.x, x.x0);
  let b1 = q8_aligned(vec4<u32>(s2.yzw, s3.x), vec4<u32>(s3.yzw, s4.x), x.x1);
  let b2 = q8_halfway(s4.y, vec4<u32>(s4.zw, s5.xy), vec4<u32>(s5.zw, s6.xy), s6.y, x.x2);
  let b3 = q8_aligned(vec4<u32>(s6.zw, s7.xy), vec4<u32>(s7.zw, s8), x.x3);
  return unpack2x16float(s0.x).x * b0 + unpack2x16float(s2.x).y * b1 +
    unpack2x16float(s4.y).x * b2 + unpack2x16float(s6.y).y * b3;
}
