// _quant_q4_k.wgsl — Q4_K super-block: f16 d, f16 dmin, 12 bytes of 6-bit scales/mins, 128 bytes of nibbles; value = d·sc·code − dmin·mn
//
// Defines for the op bodies: QK (elements per block), QB (bytes per block) and
// deq8(base, sub) -> V8: elements 8·sub .. 8·sub+7 of the block starting at
// byte `base` of `wq`, dequantized to f32 (sub in 0 .. QK/8-1).
// dot32(base, sub, xs) serves the mat-vec (see _quant_common.wgsl).
// Needs _quant_common.wgsl. Layout: docs/gguf-format.md §3.6.
// Matches the CPU dequantizer up to f32 rounding of the scale products.
// Elements 64g+l (l < 32) are the low nibbles of qs[32g+l] (sub-block 2g),
// elements 64g+32+l the high nibbles (sub-block 2g+1). Eight elements of one
// sub share sub-block j = sub/4. Blocks are 144 bytes: `base` 4-byte aligned.

const QK: u32 = 256u;
const QB: u32 = 144u;

fn deq8(base: u32, sub: u32) -> V8 {
  let head = wq[base >> 4u];
  let dm = unpack2x16float(head.x);
  let j = sub >> 2u;
  let sm = k_scale_min(head.yzw, j);
  let scale = dm.x * sm.x;
  let offset = dm.y * sm.y;
  let at = base + 16u + 32u * (sub >> 3u) + 8u * (sub & 3u);
  let qv = wq[at >> 4u];
  let q = select(qv.xy, qv.zw, (at & 8u) != 0u);
  let shift = 4u * (j & 1u);
  return V8(nib4(q.x, shift) * scale - offset, nib4(q.y, shift) * scale - offset);
}

// dot32: sub-block j = sub (0..7) is one 32-element scale group: its scale
// and min are decoded once, and the min term uses Σx.
fn dot32(base: u32, sub: u32, xs: X32) -> f32 {
  let head = wq[base >> 4u];
  let dm = unpack2x16float(head.x);
  let sm = k_scale_min(head.yzw, sub);
  let i = (base + 16u + 32u * (sub >> 1u)) >> 4u;
  let a = wq[i];
  let b = wq[i + 1u];
  let shift = 4u * (sub & 1u);
  let lo = dot16(nib4(a.x, shift), nib4(a.y, shift), nib4(a.z, shift), nib4(a.w, shift), xs.lo);
  let hi = dot16(nib4(b.x, shift), nib4(b.y, shift), nib4(b.z, shift), nib4(b.w, shift), xs.hi);
  return dm.x * sm.x * (lo + hi) - dm.y * sm.y * xs.sum;
}
