/**
 * CPU twin of the decode mat-vec (kernels/matvec_blocks.wgsl): dequantizes
 * one row at a time and accumulates in f64.
 *
 * @module
 */

import { type GgmlType, rowBytes } from "../gguf/ggml_type.ts";
import { dequantize } from "../gguf/dequantize.ts";

/**
 * `y[r] = Σ_c W[r, c] · x[c]` with W given as GGUF rows of `cols` elements in `type`.
 *
 * @example A 2×4 f32 matrix times a vector
 * ```ts
 * import assert from "node:assert/strict";
 * import { matvec } from "./matvec.ts";
 * import { GgmlType } from "../gguf/ggml_type.ts";
 * const w = new Float32Array([0.5, 0.5, 0.5, 0.5, 1, 2, 3, 4]); // 2 rows of 4
 * const y = matvec(GgmlType.F32, new Uint8Array(w.buffer), 2, 4, new Float32Array([1, 1, 1, 2]));
 * assert.deepEqual([...y], [2.5, 14]); // 0.5·(1+1+1+2), 1+2+3+8
 * ```
 *
 * @param type weight element type
 * @param weight `rows × rowBytes(type, cols)` bytes as stored in GGUF
 * @param rows output length
 * @param cols input length, a whole number of blocks
 * @param x input vector (cols)
 * @param out optional output (rows)
 * @returns y (rows)
 * @throws {RangeError} if a length does not match the shape
 */
export function matvec(
  type: GgmlType,
  weight: Uint8Array,
  rows: number,
  cols: number,
  x: Float32Array,
  out: Float32Array = new Float32Array(rows),
): Float32Array {
  const rb = rowBytes(type, cols);
  if (weight.length < rows * rb || x.length < cols || out.length < rows) {
    throw new RangeError(
      `Cannot compute matvec of a ${rows}×${cols} weight: got ${weight.length} weight bytes ` +
        `(need ${rows * rb}), x of ${x.length}, out of ${out.length}`,
    );
  }
  const row = new Float32Array(cols); // (cols) one dequantized row
  for (let r = 0; r < rows; r++) {
    dequantize(type, weight.subarray(r * rb, (r + 1) * rb), cols, row);
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += row[c]! * x[c]!;
    out[r] = sum;
  }
  return out;
}
