/**
 * CPU twin of the score accumulation in `kernels/attention_decode.wgsl`
 * (H2O/D2O accumulated attention): each cached slot's attention probability,
 * summed over the query heads of its KV head group and over query tokens.
 * An f16 cache: pass the keys as it stores them (`roundKv`, see `attention.ts`).
 *
 * @module
 */

import { type AttentionShape, checkAttentionShape } from "./attention.ts";

/**
 * Adds `Σ_t Σ_{h in group(g)} exp(q_t,h · k_g,j / sqrt(headDim) − lse[t][h])` into
 * `scores[g][j]` for every valid slot `j ≤ pos0 + t`, where `lse` comes from
 * {@linkcode attention} on the same inputs.
 *
 * @param q queries (tokens × nHead × headDim)
 * @param kCache keys ([nHeadKv][nSlots][headDim])
 * @param lse log-sum-exp per row (tokens × nHead)
 * @param tokens number of query tokens
 * @param pos0 position of the first query token
 * @param shape head layout
 * @param scores accumulator ([nHeadKv][nSlots]), updated in place; zeros when omitted
 * @returns `scores`
 * @throws {RangeError} when the heads do not group evenly or the rows run past the cache
 * @example One query, one slot: all attention goes to it
 * ```ts
 * import assert from "node:assert/strict";
 * import { attentionScores } from "./attention_scores.ts";
 * const shape = { nHead: 1, nHeadKv: 1, headDim: 1, nSlots: 1 };
 * const s = attentionScores(new Float32Array([2]), new Float32Array([3]), new Float32Array([6]), 1, 0, shape);
 * assert.equal(s[0], 1);
 * ```
 */
export function attentionScores(
  q: Float32Array,
  kCache: Float32Array,
  lse: Float32Array,
  tokens: number,
  pos0: number,
  shape: AttentionShape,
  scores: Float32Array = new Float32Array(shape.nHeadKv * shape.nSlots),
): Float32Array {
  const { nHead, nHeadKv, headDim, nSlots } = checkAttentionShape(shape, tokens, pos0);
  const group = nHead / nHeadKv;
  const scale = 1 / Math.sqrt(headDim);
  for (let t = 0; t < tokens; t++) {
    for (let h = 0; h < nHead; h++) {
      const g = Math.floor(h / group);
      const qBase = (t * nHead + h) * headDim;
      for (let j = 0; j <= pos0 + t; j++) {
        let dot = 0;
        const kBase = (g * nSlots + j) * headDim;
        for (let d = 0; d < headDim; d++) dot += q[qBase + d]! * kCache[kBase + d]!;
        scores[g * nSlots + j] = scores[g * nSlots + j]! +
          Math.exp(dot * scale - lse[t * nHead + h]!);
      }
    }
  }
  return scores;
}
