/**
 * The CPU twin of the scores a layer's score snippet makes
 * (`kernels/_score_*.wgsl`, `src/gpu/ops/kv_score.ts`): the helpers a
 * snippet reads (the grouped column sums, the f32 key norm), the prompt's
 * scores `kv_compress` ranks (its `prep` and `pool` stages) and a decode
 * token's first score (`kv_write_slot`). Each snippet's own twin is its
 * score source row's `twin` (`src/kv/score_source.ts`).
 *
 * @module
 */

import type { KvGpuSpec, LayerBudget } from "../../kv/policy.ts";
import { scoreSource } from "../../kv/score_source.ts";
import { maxPoolScores } from "./column_sums.ts";

/**
 * The L2 norm of a key in f32 as the kernels sum it (`add_squares` in
 * `kernels/_kv_state.wgsl`): squares added element by element in index order,
 * each product and partial sum rounded to f32, then the f32 square root.
 *
 * @param keys key rows
 * @param offset start of the key in `keys`
 * @param n values per key
 * @returns the norm (f32)
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { keyNormF32 } from "./scores.ts";
 * assert.equal(keyNormF32(new Float32Array([3, 4]), 0, 2), 5);
 * ```
 */
export function keyNormF32(keys: Float32Array, offset: number, n: number): number {
  const f = Math.fround;
  let n2 = 0;
  for (let d = 0; d < n; d++) {
    const x = keys[offset + d]!;
    n2 = f(n2 + f(x * x));
  }
  return f(Math.sqrt(n2));
}

/** A prompt as the compression scores it. */
export interface PromptScoreInput {
  /** Rotated keys as the staging cache stores them `[nHeadKv][tokens][headDim]`. */
  readonly keys: Float32Array;
  /** Column sums summed over each KV head's query group `[nHeadKv][tokens]` (zeros when the source takes none). */
  readonly columnSums: Float32Array;
  /** Prompt length `T'`. */
  readonly tokens: number;
  /** KV heads. */
  readonly nHeadKv: number;
  /** Values per head. */
  readonly headDim: number;
}

/**
 * The scores a layer's compression ranks the prompt by: each position's
 * score from the spec's score source (the snippet's `prompt_score` twin),
 * then, when the spec pools and the layer evicts part of the prompt, the max
 * pool over the candidates (`maxPoolScores`): the twin of kv_compress's
 * `prep` and `pool` stages.
 *
 * @param spec the policy's spec (score source, pool)
 * @param budget the layer's budget
 * @param input the stored keys and the grouped column sums
 * @returns scores `[nHeadKv][tokens]` (f32)
 * @example The attention scores are the column sums; with no score source, 0
 * ```ts
 * import assert from "node:assert/strict";
 * import { promptScores } from "./scores.ts";
 * import { baseSpec } from "../../kv/policy_base.ts";
 * const budget = { slots: 2, heavy: 1, recent: 1, sinks: 0, compressed: true };
 * const input = { keys: new Float32Array([3, 4, 0, 1]), columnSums: new Float32Array([0.5, 2]), tokens: 2, nHeadKv: 1, headDim: 2 };
 * assert.deepEqual([...promptScores(baseSpec({ score: "attention" }), budget, input)], [0.5, 2]);
 * assert.deepEqual([...promptScores(baseSpec(), budget, input)], [0, 0]);
 * ```
 */
export function promptScores(
  spec: KvGpuSpec,
  budget: LayerBudget,
  input: PromptScoreInput,
): Float32Array {
  const { keys, columnSums, tokens, nHeadKv, headDim } = input;
  const twin = scoreSource(spec.score).twin;
  const scores = new Float32Array(nHeadKv * tokens); // (n_kv_heads, T')
  for (let i = 0; i < nHeadKv * tokens; i++) {
    const keyNorm = keyNormF32(keys, i * headDim, headDim);
    scores[i] = twin.prompt({ columnSum: columnSums[i]!, keyNorm });
  }
  if (spec.pool <= 1 || !budget.compressed || tokens <= budget.slots) return scores;
  const end = Math.max(0, tokens - budget.recent);
  return maxPoolScores(scores, nHeadKv, tokens, spec.pool, budget.sinks, end);
}

/**
 * The score a decode token starts with in its slot: the snippet's
 * `written_score` twin, from the key as the cache stores it.
 *
 * @param spec the policy's spec (score source)
 * @param keys the stored key rows
 * @param offset start of the token's key in `keys`
 * @param headDim values per head
 * @returns the score (f32)
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writtenScore } from "./scores.ts";
 * import { baseSpec } from "../../kv/policy_base.ts";
 * assert.equal(writtenScore(baseSpec({ score: "attention" }), new Float32Array([3, 4]), 0, 2), 0);
 * ```
 */
export function writtenScore(
  spec: KvGpuSpec,
  keys: Float32Array,
  offset: number,
  headDim: number,
): number {
  return scoreSource(spec.score).twin.written({ keyNorm: keyNormF32(keys, offset, headDim) });
}

/**
 * Whether decode attention adds each slot's attention into its score.
 *
 * @param spec the policy's spec (score source)
 * @returns the score source's `decodeAdds`
 */
export function decodeAddsAttention(spec: KvGpuSpec): boolean {
  return scoreSource(spec.score).decodeAdds;
}
