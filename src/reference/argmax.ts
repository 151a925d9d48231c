/**
 * CPU twin of `kernels/argmax.wgsl`: greedy token choice.
 *
 * @module
 */

/**
 * The index of the largest value; ties go to the lowest index, NaN never wins.
 *
 * @param logits scores over the vocabulary
 * @returns the chosen token id (0 when every value is NaN)
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { argmax } from "./argmax.ts";
 * assert.equal(argmax(new Float32Array([1, 3, 3, 2])), 1); // the tie goes to the lower index
 * assert.equal(argmax(new Float32Array([NaN, -1])), 1);
 * ```
 */
export function argmax(logits: Float32Array): number {
  let best = -Infinity;
  let bestId = 0;
  for (let i = 0; i < logits.length; i++) {
    if (logits[i]! > best) {
      best = logits[i]!;
      bestId = i;
    }
  }
  return bestId;
}
