/**
 * Widening of the plain float tensor types (F32, F16, BF16) to f32.
 *
 * @module
 */

import { bf16ToF32, f16ToF32 } from "../half.ts";

/**
 * Copies `count` little-endian f32 values.
 *
 * @param view the tensor bytes
 * @param count elements to read
 * @param out receives the values at 0..count-1
 */
export function dequantizeF32(view: DataView, count: number, out: Float32Array): void {
  for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
}

/**
 * Widens `count` little-endian binary16 values.
 *
 * @param view the tensor bytes
 * @param count elements to read
 * @param out receives the values at 0..count-1
 */
export function dequantizeF16(view: DataView, count: number, out: Float32Array): void {
  for (let i = 0; i < count; i++) out[i] = f16ToF32(view.getUint16(2 * i, true));
}

/**
 * Widens `count` little-endian bfloat16 values.
 *
 * @param view the tensor bytes
 * @param count elements to read
 * @param out receives the values at 0..count-1
 */
export function dequantizeBf16(view: DataView, count: number, out: Float32Array): void {
  for (let i = 0; i < count; i++) out[i] = bf16ToF32(view.getUint16(2 * i, true));
}
