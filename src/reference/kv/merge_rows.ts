/**
 * CPU twin of the merge arithmetic of `kernels/kv_compress.wgsl` (`gather`)
 * and `kernels/kv_evict.wgsl` (`apply`): one target row of K (or V) rewritten
 * as the weighted sum of itself and its group, in f32 with a fixed order from
 * the values as stored, then rounded once where it is stored (an f16 cache).
 *
 * @module
 */

import type { KvType } from "../../gpu/ops/kv_elem.ts";

/**
 * Writes `data[target] = Σ_k w_k·source[row_k]` element by element, with
 * `rows = [target, ...members]` summed in that order (each product and partial
 * sum rounded to f32), then stored as the cache's element type stores it
 * (f16: rounded to the nearest half, ties to even). Reading `source` row
 * `target` before writing `data` makes `data === source` safe.
 *
 * @param data destination rows (`[rows][headDim]`)
 * @param source rows read (the same array or a pre-merge copy)
 * @param target destination row index
 * @param members group row indices, in ascending position order
 * @param weights `[w_target, w_member...]` from `mergeWeights`
 * @param headDim values per row
 * @param kvType element type of the cache `data` stands for (default f32: no rounding)
 * @throws {RangeError} when the weights do not match the group
 * @example Average two rows in place
 * ```ts
 * import assert from "node:assert/strict";
 * import { mergeRows } from "./merge_rows.ts";
 * const rows = new Float32Array([1, 2, 3, 4]);
 * mergeRows(rows, rows, 0, [1], new Float32Array([0.5, 0.5]), 2);
 * assert.deepEqual([...rows], [2, 3, 3, 4]); // row 0 = (row 0 + row 1) / 2; row 1 unchanged
 * assert.throws(() => mergeRows(rows, rows, 0, [1], new Float32Array([1]), 2), RangeError);
 * ```
 */
export function mergeRows(
  data: Float32Array,
  source: Float32Array,
  target: number,
  members: ArrayLike<number>,
  weights: Float32Array,
  headDim: number,
  kvType: KvType = "f32",
): void {
  if (weights.length !== members.length + 1) {
    throw new RangeError(
      `Cannot merge ${members.length} rows with ${weights.length} weights: expected ${
        members.length + 1
      }`,
    );
  }
  const f = Math.fround;
  const store = kvType === "f16" ? Math.f16round : f;
  for (let d = 0; d < headDim; d++) {
    let acc = f(weights[0]! * source[target * headDim + d]!);
    for (let k = 0; k < members.length; k++) {
      acc = f(acc + f(weights[k + 1]! * source[members[k]! * headDim + d]!));
    }
    data[target * headDim + d] = store(acc);
  }
}
