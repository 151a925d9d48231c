/**
 * CPU twin of the embedding lookup (kernels/get_rows_blocks.wgsl).
 *
 * @module
 */

import { type GgmlType, rowBytes } from "../gguf/ggml_type.ts";
import { dequantize } from "../gguf/dequantize.ts";

/**
 * Rows `ids` of a `[nVocab rows × nEmbd cols]` table in `type`, dequantized.
 *
 * @example Look up rows 1 and 0 of a 2×4 f32 table
 * ```ts
 * import assert from "node:assert/strict";
 * import { embedding } from "./embedding.ts";
 * import { GgmlType } from "../gguf/ggml_type.ts";
 * const table = new Float32Array([0, 1, 2, 3, 4, 5, 6, 7]); // row 0: 0..3, row 1: 4..7
 * const rows = embedding(GgmlType.F32, new Uint8Array(table.buffer), 4, [1, 0]);
 * assert.deepEqual([...rows], [4, 5, 6, 7, 0, 1, 2, 3]);
 * assert.throws(() => embedding(GgmlType.F32, new Uint8Array(table.buffer), 4, [2]), RangeError);
 * ```
 *
 * @param type table element type
 * @param table the table's bytes as stored in GGUF
 * @param nEmbd elements per row, a whole number of blocks
 * @param ids row indices
 * @param out optional output, ids.length × nEmbd
 * @returns ids.length × nEmbd values, row-major
 * @throws {RangeError} if an id is outside the table or `out` is too small
 */
export function embedding(
  type: GgmlType,
  table: Uint8Array,
  nEmbd: number,
  ids: ArrayLike<number>,
  out: Float32Array = new Float32Array(ids.length * nEmbd),
): Float32Array {
  const rb = rowBytes(type, nEmbd);
  const nVocab = Math.floor(table.length / rb);
  if (out.length < ids.length * nEmbd) {
    throw new RangeError(
      `Cannot look up ${ids.length} embeddings of ${nEmbd}: out holds ${out.length} values`,
    );
  }
  for (let t = 0; t < ids.length; t++) {
    const id = ids[t]!;
    if (!Number.isInteger(id) || id < 0 || id >= nVocab) {
      throw new RangeError(`Cannot look up token id ${id}: the table has ${nVocab} rows`);
    }
    dequantize(type, table.subarray(id * rb, (id + 1) * rb), nEmbd, out.subarray(t * nEmbd));
  }
  return out;
}
