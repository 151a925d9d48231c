// _matvec_rows_q4_k.wgsl — Q4_K units of matvec_rows.wgsl: one 144-byte
// super-block (256 values) read in nine aligned vec4 loads (rows of 144-byte
// blocks start 16-byte aligned).
//
// Needs _quant_common.wgsl (nib4, k_scale_min), _quant_q4_k.wgsl and
// _matvec_rows_unit_x.wgsl (UNIT, UnitX: x.x0 .. x.x7 the sub-blocks' x̂);
// defines unit_dot for the body. Layout as _quant_q4_k.wgsl:
// the head vec4 holds d, dmin and the 12 scale bytes; code vec4 1 + 2g and
// 2 + 2g hold sub-block 2g in their low nibbles and 2g + 1 in their high.

/** Σ nibble·x over the 32 nibbles at bit `s` of the code words a, b. */
fn q4k_nibbles(a: vec4<u32>, b: vec4<u32>, s: u32, x: X32) -> f32 {
  return dot16(nib4(a.x, s), nib4(a.y, s), nib4(a.z, s), nib4(a.w, s), x.lo) +
    dot16(nib4(b.x, s), nib4(b.y, s), nib4(b.z, s), nib4(b.w, s), x.hi);
}

/**
 * Sub-blocks 2g (low nibbles of a, b) and 2g + 1 (high): (Σ scale·Σ code·x,
 * Σ min·Σx), to be weighted by d and dmin.
 */
fn q4k_pair(head: vec4<u32>, a: vec4<u32>, b: vec4<u32>, g: u32, xl: X32, xh: X32) -> vec2<f32> {
  let sl = k_scale_min(head.yzw, 2u * g);
  let sh = k_scale_min(head.yzw, 2u * g + 1u);
  let lo = q4k_nibbles(a, b, 0u, xl);
  let hi = q4k_nibbles(a, b, 4u, xh);
  return vec2<f32>(sl.x * lo + sh.x * hi, sl.y * xl.sum + sh.y * xh.sum);
}

/** Σ W·x over the super-block at byte `at` (16-byte aligned) of one row. */
fn unit_dot(at: u32, x: UnitX) -> f32 {
  let v = at >> 4u;
  let head = wq[v];
  let p0 = q4k_pair(head, wq[v + 1u], wq[v + 2u], 0u, x.x0, x.x1);
  let p1 = q4k_pair(head, wq[v + 3u], wq[v + 4u], 1u, x.x2, x.x3);
  let p2 = q4k_pair(head, wq[v + 5u], wq[v + 6u], 2u, x.x4, x.x5);
  let p3 = q4k_pair(head, wq[v + 7u], wq[v + 8u], 3u, x.x6, x.x7);
  let s = (p0 + p1) + (p2 + p3);
  let dm = unpack2x16float(head.x);
  return dm.x * s.x - dm.y * s.y;
}
