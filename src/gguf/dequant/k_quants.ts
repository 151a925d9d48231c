/**
 * Dequantizers of the 256-element super-block types Q4_K, Q5_K and Q6_K
 * (docs/gguf-format.md §3.6, §3.7, §3.10). Each reads `nBlocks` super-blocks packed
 * back to back from the start of `bytes` and writes 256 values per block.
 *
 * @module
 */

import { f16ToF32 } from "../half.ts";
import { unpackKScaleMin } from "../quant/k_scales.ts";

/**
 * Q4_K (144 bytes): f16 `d`, f16 `dmin`, 12 bytes of packed 6-bit scales/mins,
 * 128 bytes of nibbles. Group g (0..3) of 64 elements reads `qs[32g + l]`: low
 * nibbles with sub-block 2g, high nibbles with sub-block 2g+1.
 * Value = d × scale × code − dmin × min.
 *
 * @param bytes the blocks
 * @param nBlocks number of super-blocks
 * @param out receives 256 × nBlocks values
 */
export function dequantizeQ4_K(bytes: Uint8Array, nBlocks: number, out: Float32Array): void {
  for (let b = 0; b < nBlocks; b++) {
    const at = 144 * b;
    const d = f16ToF32(bytes[at]! | (bytes[at + 1]! << 8));
    const dmin = f16ToF32(bytes[at + 2]! | (bytes[at + 3]! << 8));
    for (let g = 0; g < 4; g++) {
      const [sc0, mn0] = unpackKScaleMin(bytes, at + 4, 2 * g);
      const [sc1, mn1] = unpackKScaleMin(bytes, at + 4, 2 * g + 1);
      const base = 256 * b + 64 * g;
      for (let l = 0; l < 32; l++) {
        const q = bytes[at + 16 + 32 * g + l]!;
        out[base + l] = d * sc0 * (q & 0x0f) - dmin * mn0;
        out[base + 32 + l] = d * sc1 * (q >> 4) - dmin * mn1;
      }
    }
  }
}

/**
 * Q5_K (176 bytes): as Q4_K plus `qh[32]` (at byte 16) before the nibbles (at
 * byte 48); the fifth bit of element 64g + l is bit 2g of `qh[l]`, that of
 * element 64g + 32 + l is bit 2g+1.
 *
 * @param bytes the blocks
 * @param nBlocks number of super-blocks
 * @param out receives 256 × nBlocks values
 */
export function dequantizeQ5_K(bytes: Uint8Array, nBlocks: number, out: Float32Array): void {
  for (let b = 0; b < nBlocks; b++) {
    const at = 176 * b;
    const d = f16ToF32(bytes[at]! | (bytes[at + 1]! << 8));
    const dmin = f16ToF32(bytes[at + 2]! | (bytes[at + 3]! << 8));
    for (let g = 0; g < 4; g++) {
      const [sc0, mn0] = unpackKScaleMin(bytes, at + 4, 2 * g);
      const [sc1, mn1] = unpackKScaleMin(bytes, at + 4, 2 * g + 1);
      const base = 256 * b + 64 * g;
      for (let l = 0; l < 32; l++) {
        const q = bytes[at + 48 + 32 * g + l]!;
        const h = bytes[at + 16 + l]!;
        const lo = (q & 0x0f) | (((h >> (2 * g)) & 1) << 4);
        const hi = (q >> 4) | (((h >> (2 * g + 1)) & 1) << 4);
        out[base + l] = d * sc0 * lo - dmin * mn0;
        out[base + 32 + l] = d * sc1 * hi - dmin * mn1;
      }
    }
  }
}

/**
 * Q6_K (210 bytes): `ql[128]` low nibbles, `qh[64]` high 2-bit pairs,
 * `scales[16]` signed bytes, f16 `d` last. Half h (0..1) of 128 elements reads
 * `ql[64h ..]`, `qh[32h ..]`, `scales[8h ..]`; for l in 0..31 and t = ⌊l/16⌋:
 * element l: low nibble of ql[l], qh[l] bits 0–1, scale t;
 * element l+32: low nibble of ql[l+32], bits 2–3, scale t+2;
 * element l+64: high nibble of ql[l], bits 4–5, scale t+4;
 * element l+96: high nibble of ql[l+32], bits 6–7, scale t+6.
 * Value = d × scale × (code − 32).
 *
 * @param bytes the blocks
 * @param nBlocks number of super-blocks
 * @param out receives 256 × nBlocks values
 */
export function dequantizeQ6_K(bytes: Uint8Array, nBlocks: number, out: Float32Array): void {
  const scale = new Float64Array(8); // d × signed scale of one half's eight sub-blocks
  for (let b = 0; b < nBlocks; b++) {
    const at = 210 * b;
    const d = f16ToF32(bytes[at + 208]! | (bytes[at + 209]! << 8));
    for (let h = 0; h < 2; h++) {
      const ql = at + 64 * h;
      const qh = at + 128 + 32 * h;
      const base = 256 * b + 128 * h;
      for (let k = 0; k < 8; k++) scale[k] = d * ((bytes[at + 192 + 8 * h + k]! << 24) >> 24);
      for (let l = 0; l < 32; l++) {
        const t = l >> 4;
        const a = bytes[ql + l]!;
        const c = bytes[ql + l + 32]!;
        const hb = bytes[qh + l]!;
        out[base + l] = scale[t]! * (((a & 0x0f) | ((hb & 3) << 4)) - 32);
        out[base + l + 32] = scale[t + 2]! * (((c & 0x0f) | (((hb >> 2) & 3) << 4)) - 32);
        out[base + l + 64] = scale[t + 4]! * (((a >> 4) | (((hb >> 4) & 3) << 4)) - 32);
        out[base + l + 96] = scale[t + 6]! * (((c >> 4) | (((hb >> 6) & 3) << 4)) - 32);
      }
    }
  }
}
