/**
 * Encoding of the plain float tensor types F32, F16 and BF16 (little-endian).
 *
 * @module
 */

import { f32ToBf16, f32ToF16 } from "../half.ts";

/**
 * Writes each value as a little-endian f32.
 *
 * @param values the elements
 * @param out receives 4 bytes per element
 */
export function quantizeF32(values: Float32Array, out: Uint8Array): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let i = 0; i < values.length; i++) view.setFloat32(4 * i, values[i]!, true);
}

/**
 * Writes each value as a little-endian binary16, rounded to nearest even
 * (values beyond ±65504 become infinities).
 *
 * @param values the elements
 * @param out receives 2 bytes per element
 */
export function quantizeF16(values: Float32Array, out: Uint8Array): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let i = 0; i < values.length; i++) view.setUint16(2 * i, f32ToF16(values[i]!), true);
}

/**
 * Writes each value as a little-endian bfloat16, rounded to nearest even.
 *
 * @param values the elements
 * @param out receives 2 bytes per element
 */
export function quantizeBf16(values: Float32Array, out: Uint8Array): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let i = 0; i < values.length; i++) view.setUint16(2 * i, f32ToBf16(values[i]!), true);
}
