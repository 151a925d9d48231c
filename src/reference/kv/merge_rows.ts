/**
 * CPU twin of the merge arithmetic of `d2o_merge` / `decode_evict_merge`:
 * one target row of K (or V) rewritten as the weighted sum of itself and its
 * group, in f32 with a fixed order.
 *
 * @module
 */

/**
 * Writes `data[target] = Σ_k w_k·source[row_k]` element by element, with
 * `rows = [target, ...members]` summed in that order (each product and partial
 * sum rounded to f32). Reading `source` row `target` before writing `data`
 * makes `data === source` safe.
 *
 * @param data destination rows (`[rows][headDim]`)
 * @param source rows read (the same array or a pre-merge copy)
 * @param target destination row index
 * @param members group row indices, in ascending position order
 * @param weights `[w_target, w_member...]` from `mergeWeights`
 * @param headDim values per row
 * @throws {RangeError} when the weights do not match the group
 * @example Average two rows in place
 * ```ts
 * import { mergeRows } from "./merge_rows.ts";
 * const rows = new Float32Array([1, 2, 3, 4]);
 * mergeRows(rows, rows, 0, [1], new Float32Array([0.5, 0.5]), 2);
 * console.log([...rows]); // [ 2, 3, 3, 4 ]
 * ```
 */
export function mergeRows(
  data: Float32Array,
  source: Float32Array,
  target: number,
  members: ArrayLike<number>,
  weights: Float32Array,
  headDim: number,
): void {
  if (weights.length !== members.length + 1) {
    throw new RangeError(
      `Cannot merge ${members.length} rows with ${weights.length} weights: expected ${
        members.length + 1
      }`,
    );
  }
  const f = Math.fround;
  for (let d = 0; d < headDim; d++) {
    let acc = f(weights[0]! * source[target * headDim + d]!);
    for (let k = 0; k < members.length; k++) {
      acc = f(acc + f(weights[k + 1]! * source[members[k]! * headDim + d]!));
    }
    data[target * headDim + d] = acc;
  }
}
