/**
 * The 12-byte packing of eight 6-bit scales and eight 6-bit minimums used by
 * the Q4_K and Q5_K super-blocks (docs/gguf-format.md §3.6): bytes 0..3 hold scales
 * 0..3, bytes 4..7 mins 0..3 (low 6 bits each); bytes 8..11 hold the low
 * nibbles of scale/min 4..7, whose top 2 bits live in bits 6..7 of bytes 0..7.
 *
 * @module
 */

/**
 * Reads sub-block `i`'s 6-bit scale and minimum.
 *
 * @param bytes the buffer holding the 12 packed bytes
 * @param at index of the first packed byte in `bytes`
 * @param i sub-block index, 0..7
 * @returns `[scale, min]`, each 0..63
 * @example Scale 5 and min 9 of sub-block 0
 * ```ts
 * import assert from "node:assert/strict";
 * import { unpackKScaleMin } from "./k_scales.ts";
 * const s = new Uint8Array(12);
 * s[0] = 5;
 * s[4] = 9;
 * assert.deepEqual(unpackKScaleMin(s, 0, 0), [5, 9]);
 * ```
 */
export function unpackKScaleMin(bytes: Uint8Array, at: number, i: number): [number, number] {
  if (i < 4) return [bytes[at + i]! & 0x3f, bytes[at + i + 4]! & 0x3f];
  const lowBits = bytes[at + i + 4]!;
  const scale = (lowBits & 0x0f) | ((bytes[at + i - 4]! >> 6) << 4);
  const min = (lowBits >> 4) | ((bytes[at + i]! >> 6) << 4);
  return [scale, min];
}

/**
 * Packs eight 6-bit scales and eight 6-bit minimums into 12 bytes, the
 * inverse of {@linkcode unpackKScaleMin}.
 *
 * @param scales eight integers 0..63
 * @param mins eight integers 0..63
 * @param out receives the 12 bytes at `at`
 * @param at index of the first byte to write
 * @example Round trip one sub-block
 * ```ts
 * import assert from "node:assert/strict";
 * import { packKScales, unpackKScaleMin } from "./k_scales.ts";
 * const out = new Uint8Array(12);
 * packKScales([1, 2, 3, 4, 63, 6, 7, 8], [0, 0, 0, 0, 40, 0, 0, 0], out, 0);
 * assert.deepEqual(unpackKScaleMin(out, 0, 4), [63, 40]);
 * ```
 */
export function packKScales(
  scales: ArrayLike<number>,
  mins: ArrayLike<number>,
  out: Uint8Array,
  at: number,
): void {
  for (let i = 0; i < 4; i++) {
    const hiScale = scales[i + 4]! >> 4;
    const hiMin = mins[i + 4]! >> 4;
    out[at + i] = scales[i]! | (hiScale << 6);
    out[at + i + 4] = mins[i]! | (hiMin << 6);
    out[at + i + 8] = (scales[i + 4]! & 0x0f) | ((mins[i + 4]! & 0x0f) << 4);
  }
}
