/**
 * Storing block scales as binary16, with a clear error when a block's scale
 * does not fit.
 *
 * @module
 */

import { f16ToF32, f32ToF16 } from "../half.ts";

/**
 * Rounds a block scale to the nearest binary16.
 *
 * @param x the scale
 * @param what names the block in the error, e.g. `"Q8_0 block 3"`
 * @returns the f16 bits
 * @throws {RangeError} if `|x|` rounds beyond the largest finite half (65504)
 */
export function scaleToF16(x: number, what: string): number {
  const bits = f32ToF16(x);
  if ((bits & 0x7c00) === 0x7c00) {
    throw new RangeError(`Cannot quantize ${what}: scale ${x} is beyond the f16 range`);
  }
  return bits;
}

/**
 * Rounds a non-negative block scale up to the nearest binary16 at or above it,
 * so a range covered by `x` is still covered by the stored value.
 *
 * @param x the scale, ≥ 0
 * @param what names the block in the error, e.g. `"Q4_K block 3"`
 * @returns the f16 bits
 * @throws {RangeError} if `x` is beyond the largest finite half (65504)
 */
export function scaleToF16Up(x: number, what: string): number {
  let bits = scaleToF16(x, what);
  if (f16ToF32(bits) < x) bits++;
  if (bits >= 0x7c00) {
    throw new RangeError(`Cannot quantize ${what}: scale ${x} is beyond the f16 range`);
  }
  return bits;
}
