// _matvec_rows_q6_k.wgsl — Q6_K units of matvec_rows.wgsl: one 210-byte
// super-block (256 values) read in fourteen vec4 loads and realigned.
//
// Needs _quant_common.wgsl (pick4, funnel, dot16) and _quant_q6_k.wgsl (q6x4);
// defines UNIT, UnitX, unit_x and unit_dot for the body. A block starts at
// any even byte: its words are cut out of the fourteen vec4 from the one
// holding its first byte (pick4 for the word offset, funnel for the two-byte
// one). Block words 0..31 are ql, 32..47 qh, 48..51 the 16 signed scales, the
// low half of 52 is d; sub-block j = 4h + q (h < 2, q < 4) reads ql words
// 16h + 8(q & 1) .. +8 (nibble q >> 1), qh words 32 + 8h .. +8 (bits 2q), and
// the scales 2j, 2j + 1 (one per 16 values), as _quant_q6_k.wgsl lays out.

const UNIT: u32 = 256u;

/** The unit's x̂, one X32 per 32-value sub-block. */
struct UnitX {
  x0: X32,
  x1: X32,
  x2: X32,
  x3: X32,
  x4: X32,
  x5: X32,
  x6: X32,
  x7: X32,
}

fn unit_x(c: u32) -> UnitX {
  return UnitX(
    x32_at(c),
    x32_at(c + 32u),
    x32_at(c + 64u),
    x32_at(c + 96u),
    x32_at(c + 128u),
    x32_at(c + 160u),
    x32_at(c + 192u),
    x32_at(c + 224u),
  );
}

/** Block words 4k .. 4k+3 from the loaded vec4 k (a) and k + 1 (b); `at` the block's byte offset. */
fn q6k_words(a: vec4<u32>, b: vec4<u32>, at: u32) -> vec4<u32> {
  let k = (at >> 2u) & 3u;
  return funnel(pick4(a, b, k), pick4(a, b, k + 1u), at);
}

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
  let v = at >> 4u;
  let q0 = wq[v];
  let q1 = wq[v + 1u];
  let q2 = wq[v + 2u];
  let q3 = wq[v + 3u];
  let q4 = wq[v + 4u];
  let q5 = wq[v + 5u];
  let q6 = wq[v + 6u];
  let q7 = wq[v + 7u];
  let q8 = wq[v + 8u];
  let q9 = wq[v + 9u];
  let q10 = wq[v + 10u];
  let q11 = wq[v + 11u];
  let q12 = wq[v + 12u];
  let q13 = wq[v + 13u];
  let w0 = q6k_words(q0, q1, at);
  let w1 = q6k_words(q1, q2, at);
  let w2 = q6k_words(q2, q3, at);
  let w3 = q6k_words(q3, q4, at);
  let w4 = q6k_words(q4, q5, at);
  let w5 = q6k_words(q5, q6, at);
  let w6 = q6k_words(q6, q7, at);
  let w7 = q6k_words(q7, q8, at);
  let w8 = q6k_words(q8, q9, at);
  let w9 = q6k_words(q9, q10, at);
  let w10 = q6k_words(q10, q11, at);
  let w11 = q6k_words(q11, q12, at);
  let sc = q6k_words(q12, q13, at);
  // d, the low half of word 52, lies in q13 for every start (byte ≤ 14 + 209).
  let d = unpack2x16float(q6k_words(q13, q13, at).x).x;
  let t0 = q6k_sub(w0, w1, w8, w9, 0u, 0u, sc.x, x.x0);
  let t1 = q6k_sub(w2, w3, w8, w9, 0u, 2u, sc.x >> 16u, x.x1);
  let t2 = q6k_sub(w0, w1, w8, w9, 4u, 4u, sc.y, x.x2);
  let t3 = q6k_sub(w2, w3, w8, w9, 4u, 6u, sc.y >> 16u, x.x3);
  let t4 = q6k_sub(w4, w5, w10, w11, 0u, 0u, sc.z, x.x4);
  let t5 = q6k_sub(w6, w7, w10, w11, 0u, 2u, sc.z >> 16u, x.x5);
  let t6 = q6k_sub(w4, w5, w10, w11, 4u, 4u, sc.w, x.x6);
  let t7 = q6k_sub(w6, w7, w10, w11, 4u, 6u, sc.w >> 16u, x.x7);
  return d * (((t0 + t1) + (t2 + t3)) + ((t4 + t5) + (t6 + t7)));
}
