/**
 * Dequantizers of the 32-element block types Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0
 * (docs/gguf-format.md §3.1–§3.5). Each reads `nBlocks` blocks packed back to back
 * from the start of `view` and writes 32 values per block into `out`.
 *
 * In the 4/5-bit types, element `j` (0..15) is the low nibble of `qs[j]` and
 * element `j + 16` its high nibble; Q5 types add bit `j` of the u32 `qh` as
 * the fifth bit of element `j`.
 *
 * @module
 */

import { f16ToF32 } from "../half.ts";

/**
 * Q4_0 (18 bytes): f16 `d`, 16 bytes of nibbles; value = (code − 8) × d.
 *
 * @param view the blocks
 * @param nBlocks number of blocks
 * @param out receives 32 × nBlocks values
 */
export function dequantizeQ4_0(view: DataView, nBlocks: number, out: Float32Array): void {
  for (let b = 0; b < nBlocks; b++) {
    const at = 18 * b;
    const d = f16ToF32(view.getUint16(at, true));
    for (let j = 0; j < 16; j++) {
      const q = view.getUint8(at + 2 + j);
      out[32 * b + j] = ((q & 0x0f) - 8) * d;
      out[32 * b + j + 16] = ((q >> 4) - 8) * d;
    }
  }
}

/**
 * Q4_1 (20 bytes): f16 `d`, f16 `m`, 16 bytes of nibbles; value = code × d + m.
 *
 * @param view the blocks
 * @param nBlocks number of blocks
 * @param out receives 32 × nBlocks values
 */
export function dequantizeQ4_1(view: DataView, nBlocks: number, out: Float32Array): void {
  for (let b = 0; b < nBlocks; b++) {
    const at = 20 * b;
    const d = f16ToF32(view.getUint16(at, true));
    const m = f16ToF32(view.getUint16(at + 2, true));
    for (let j = 0; j < 16; j++) {
      const q = view.getUint8(at + 4 + j);
      out[32 * b + j] = (q & 0x0f) * d + m;
      out[32 * b + j + 16] = (q >> 4) * d + m;
    }
  }
}

/**
 * Q5_0 (22 bytes): f16 `d`, u32 `qh`, 16 bytes of nibbles; value = (code − 16) × d.
 *
 * @param view the blocks
 * @param nBlocks number of blocks
 * @param out receives 32 × nBlocks values
 */
export function dequantizeQ5_0(view: DataView, nBlocks: number, out: Float32Array): void {
  for (let b = 0; b < nBlocks; b++) {
    const at = 22 * b;
    const d = f16ToF32(view.getUint16(at, true));
    const qh = view.getUint32(at + 2, true);
    for (let j = 0; j < 16; j++) {
      const q = view.getUint8(at + 6 + j);
      const lo = (q & 0x0f) | (((qh >>> j) & 1) << 4);
      const hi = (q >> 4) | (((qh >>> (j + 16)) & 1) << 4);
      out[32 * b + j] = (lo - 16) * d;
      out[32 * b + j + 16] = (hi - 16) * d;
    }
  }
}

/**
 * Q5_1 (24 bytes): f16 `d`, f16 `m`, u32 `qh`, 16 bytes of nibbles; value = code × d + m.
 *
 * @param view the blocks
 * @param nBlocks number of blocks
 * @param out receives 32 × nBlocks values
 */
export function dequantizeQ5_1(view: DataView, nBlocks: number, out: Float32Array): void {
  for (let b = 0; b < nBlocks; b++) {
    const at = 24 * b;
    const d = f16ToF32(view.getUint16(at, true));
    const m = f16ToF32(view.getUint16(at + 2, true));
    const qh = view.getUint32(at + 4, true);
    for (let j = 0; j < 16; j++) {
      const q = view.getUint8(at + 8 + j);
      const lo = (q & 0x0f) | (((qh >>> j) & 1) << 4);
      const hi = (q >> 4) | (((qh >>> (j + 16)) & 1) << 4);
      out[32 * b + j] = lo * d + m;
      out[32 * b + j + 16] = hi * d + m;
    }
  }
}

/**
 * Q8_0 (34 bytes): f16 `d`, 32 signed bytes; value = int8 × d.
 *
 * @param view the blocks
 * @param nBlocks number of blocks
 * @param out receives 32 × nBlocks values
 */
export function dequantizeQ8_0(view: DataView, nBlocks: number, out: Float32Array): void {
  for (let b = 0; b < nBlocks; b++) {
    const at = 34 * b;
    const d = f16ToF32(view.getUint16(at, true));
    for (let j = 0; j < 32; j++) out[32 * b + j] = view.getInt8(at + 2 + j) * d;
  }
}
