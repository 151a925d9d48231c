/**
 * Storing block scales as binary16, with a clear error when a block's scale
 * does not fit.
 *
 * @module
 */

import { f16ToF32, f32ToF16 } from "../half.ts";

/** The error for a scale beyond the f16 range (the message is built only then). */
function beyondF16(x: number, type: string, block: number): RangeError {
  return new RangeError(
    `Cannot quantize ${type} block ${block}: scale ${x} is beyond the f16 range`,
  );
}

/**
 * Rounds a block scale to the nearest binary16.
 *
 * @param x the scale
 * @param type the tensor type's name, for the error, e.g. `"Q8_0"`
 * @param block the block's index, for the error
 * @returns the f16 bits
 * @throws {RangeError} if `|x|` rounds beyond the largest finite half (65504)
 */
export function scaleToF16(x: number, type: string, block: number): number {
  const bits = f32ToF16(x);
  if ((bits & 0x7c00) === 0x7c00) throw beyondF16(x, type, block);
  return bits;
}

/**
 * Rounds a non-negative block scale up to the nearest binary16 at or above it,
 * so a range covered by `x` is still covered by the stored value.
 *
 * @param x the scale, ≥ 0
 * @param type the tensor type's name, for the error, e.g. `"Q4_K"`
 * @param block the super-block's index, for the error
 * @returns the f16 bits
 * @throws {RangeError} if `x` is beyond the largest finite half (65504)
 */
export function scaleToF16Up(x: number, type: string, block: number): number {
  let bits = scaleToF16(x, type, block);
  if (f16ToF32(bits) < x) bits++;
  if (bits >= 0x7c00) throw beyondF16(x, type, block);
  return bits;
}
