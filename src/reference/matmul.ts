/**
 * CPU twin of the prompt mat-mul (kernels/matmul_tiled.wgsl): dequantizes one
 * weight row at a time and accumulates in f64.
 *
 * @module
 */

import { type GgmlType, rowBytes } from "../gguf/ggml_type.ts";
import { dequantize } from "../gguf/dequantize.ts";

/**
 * `Y[t][r] = Σ_c W[r, c] · X[t][c]` for `tokens` rows of X.
 *
 * @example Two tokens through a 2×4 f32 weight
 * ```ts
 * import assert from "node:assert/strict";
 * import { matmul } from "./matmul.ts";
 * import { GgmlType } from "../gguf/ggml_type.ts";
 * const w = new Float32Array([1, 1, 1, 1, 1, 2, 3, 4]); // rows: ones, 1..4
 * const x = new Float32Array([1, 1, 1, 1, 2, 0, 0, 1]); // tokens: ones, (2, 0, 0, 1)
 * const y = matmul(GgmlType.F32, new Uint8Array(w.buffer), 2, 4, x, 2);
 * assert.deepEqual([...y], [4, 10, 3, 6]); // token 0: 4, 1+2+3+4; token 1: 2+1, 2+4
 * ```
 *
 * @param type weight element type
 * @param weight `rows × rowBytes(type, cols)` bytes as stored in GGUF
 * @param rows weight rows (Y's row length)
 * @param cols weight columns (X's row length), a whole number of blocks
 * @param x X, tokens × cols, row-major
 * @param tokens rows of X
 * @param out optional Y, tokens × rows
 * @returns Y, tokens × rows, row-major
 * @throws {RangeError} if a length does not match the shape
 */
export function matmul(
  type: GgmlType,
  weight: Uint8Array,
  rows: number,
  cols: number,
  x: Float32Array,
  tokens: number,
  out: Float32Array = new Float32Array(tokens * rows),
): Float32Array {
  const rb = rowBytes(type, cols);
  if (weight.length < rows * rb || x.length < tokens * cols || out.length < tokens * rows) {
    throw new RangeError(
      `Cannot compute matmul of a ${rows}×${cols} weight by ${tokens} tokens: got ${weight.length} ` +
        `weight bytes (need ${rows * rb}), x of ${x.length}, out of ${out.length}`,
    );
  }
  const row = new Float32Array(cols); // (cols) one dequantized weight row
  for (let r = 0; r < rows; r++) {
    dequantize(type, weight.subarray(r * rb, (r + 1) * rb), cols, row);
    for (let t = 0; t < tokens; t++) {
      let sum = 0;
      for (let c = 0; c < cols; c++) sum += row[c]! * x[t * cols + c]!;
      out[t * rows + r] = sum;
    }
  }
  return out;
}
