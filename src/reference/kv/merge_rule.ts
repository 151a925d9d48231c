/**
 * Merge weights of d2o's compensation step (docs/method.md §5.3, §9 Q4–Q5),
 * in f32. A kept target `c` absorbs the group `G` of evicted tokens that chose
 * it; its new key and value are `Σ_i w_i·x_i` over `[c, G...]`:
 *
 * - `paper`: `a_c = exp(self_logit)` (self-logit 1 gives `e`), `a_e = exp(u_e)`,
 *   `D = a_c + Σ a_e` summed in order, `w = a/D` (a convex combination);
 * - `code`: `w_c = 1/(1+|G|)`, `w_e = u_e/(1+|G|)` (the reference code's
 *   similarity-scaled mean; weights sum to less than 1 when `u < 1`).
 *
 * @module
 */

import type { MergeRule } from "../../kv/option_types.ts";

/**
 * Computes the merge weights for one target.
 *
 * @param rule `paper` or `code`
 * @param similarities `u_e` of the group members, in ascending position order
 * @param selfLogit logit of the target's own term (paper rule)
 * @returns `[w_c, w_e...]` (f32 values), one more than the group
 * @example One token merged with similarity 1 under the paper rule: equal weights
 * ```ts
 * import assert from "node:assert/strict";
 * import { mergeWeights } from "./merge_rule.ts";
 * assert.deepEqual([...mergeWeights("paper", [1], 1)], [0.5, 0.5]); // e / (e + e)
 * // The code's rule: 1/(1+|G|) for the target, u/(1+|G|) for the member
 * assert.deepEqual([...mergeWeights("code", [0.5], 1)], [0.5, 0.25]);
 * ```
 */
export function mergeWeights(
  rule: MergeRule,
  similarities: ArrayLike<number>,
  selfLogit: number,
): Float32Array {
  const f = Math.fround;
  const n = similarities.length;
  const w = new Float32Array(n + 1);
  if (rule === "code") {
    const inv = f(1 / (n + 1));
    w[0] = inv;
    for (let i = 0; i < n; i++) w[i + 1] = f(f(similarities[i]!) * inv);
    return w;
  }
  w[0] = f(Math.exp(selfLogit));
  let sum = w[0];
  for (let i = 0; i < n; i++) {
    w[i + 1] = f(Math.exp(similarities[i]!));
    sum = f(sum + w[i + 1]!);
  }
  for (let i = 0; i <= n; i++) w[i] = f(w[i]! / sum);
  return w;
}
