/**
 * CPU twin of kernels/matvec_batch.wgsl: the reference mat-vec applied to each
 * of `n` input rows (the same math; the kernel only shares the dequantization).
 *
 * @module
 */

import type { GgmlType } from "../gguf/ggml_type.ts";
import { matvec } from "./matvec.ts";

/**
 * `Y[b] = W·X[b]` for the first `n` rows of X, in f64 like {@linkcode matvec}.
 *
 * @example Two inputs through a 1×2 F32 weight
 * ```ts
 * import assert from "node:assert/strict";
 * import { matvecBatch } from "./matvec_batch.ts";
 * import { GgmlType } from "../gguf/ggml_type.ts";
 * const w = new Uint8Array(new Float32Array([1, 2]).buffer);
 * const y = matvecBatch(GgmlType.F32, w, 1, 2, new Float32Array([1, 1, 3, 0]), 2);
 * assert.deepEqual([...y], [3, 3]); // 1·1 + 2·1, 1·3 + 2·0
 * ```
 *
 * @param type weight element type
 * @param weight `rows × rowBytes(type, cols)` bytes as stored in GGUF
 * @param rows output length per input row
 * @param cols input length, a whole number of blocks
 * @param x inputs, `n × cols`, row-major
 * @param n input rows
 * @returns Y, `n × rows`, row-major
 * @throws {RangeError} if a length does not match the shape
 */
export function matvecBatch(
  type: GgmlType,
  weight: Uint8Array,
  rows: number,
  cols: number,
  x: Float32Array,
  n: number,
): Float32Array {
  if (x.length < n * cols) {
    throw new RangeError(`Cannot compute matvecBatch of ${n}×${cols} inputs: x has ${x.length}`);
  }
  const out = new Float32Array(n * rows);
  for (let b = 0; b < n; b++) {
    matvec(type, weight, rows, cols, x.subarray(b * cols, (b + 1) * cols), out.subarray(b * rows));
  }
  return out;
}
