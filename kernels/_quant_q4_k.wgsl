// _quant_q4_k.wgsl — Q4_K super-block: f16 d, f16 dmin, 12 bytes of 6-bit scales/mins, 128 bytes of nibbles; value = d·sc·code − dmin·mn
//
// Defines for the op bodies: QK (elements per block), QB (bytes per block) and
// deq8(base, sub) -> V8: elements 8·sub .. 8·sub+7 of the block starting at
// byte `base` of `wq`, dequantized to f32 (sub in 0 .. QK/8-1).
// Needs _quant_common.wgsl. Layout: shared/docs/gguf-format.md §3.6.
// Matches the CPU dequantizer up to f32 rounding of the scale products.
// Elements 64g+l (l < 32) are the low nibbles of qs[32g+l] (sub-block 2g),
// elements 64g+32+l the high nibbles (sub-block 2g+1). Eight elements of one
// sub share sub-block j = sub/4. Blocks are 144 bytes: `base` 4-byte aligned.

const QK: u32 = 256u;
const QB: u32 = 144u;

fn deq8(base: u32, sub: u32) -> V8 {
  let dm = unpack2x16float(wq[base >> 2u]);
  let j = sub >> 2u;
  let sm = k_scale_min(base + 4u, j);
  let scale = dm.x * sm.x;
  let offset = dm.y * sm.y;
  let at = base + 16u + 32u * (sub >> 3u) + 8u * (sub & 3u);
  let q = vec2<u32>(wq[at >> 2u], wq[(at >> 2u) + 1u]);
  let shift = 4u * (j & 1u);
  return V8(nib4(q.x, shift) * scale - offset, nib4(q.y, shift) * scale - offset);
}

// dot32: sub-block j = sub (0..7) is one 32-element scale group: its scale
// and min are decoded once, and the min term uses Σx.
fn dot32(base: u32, sub: u32, xs: X32) -> f32 {
  let dm = unpack2x16float(wq[base >> 2u]);
  let sm = k_scale_min(base + 4u, sub);
  let i = (base + 16u + 32u * (sub >> 1u)) >> 2u;
  let shift = 4u * (sub & 1u);
  let lo = dot16(nib4(wq[i], shift), nib4(wq[i + 1u], shift), nib4(wq[i + 2u], shift), nib4(wq[i + 3u], shift), xs.lo);
  let hi = dot16(nib4(wq[i + 4u], shift), nib4(wq[i + 5u], shift), nib4(wq[i + 6u], shift), nib4(wq[i + 7u], shift), xs.hi);
  return dm.x * sm.x * (lo + hi) - dm.y * sm.y * xs.sum;
}
