/**
 * CPU twin of `kernels/attention_prefill.wgsl` and `kernels/attention_decode.wgsl`:
 * causal scaled dot-product attention over the KV cache with grouped-query heads.
 * The cache is given as the values it holds: for an f16 cache (`kvTypes` f16)
 * pass K and V rounded as the cache stores them (`roundKv` in
 * `src/gpu/ops/kv_elem.ts`); the kernels read those halves exactly and compute
 * in f32, this twin in f64.
 *
 * @module
 */

import type { AttentionShape } from "../gpu/ops/attention.ts";

/** Head layout of one attention layer and its cache (declared with the GPU op). */
export type { AttentionShape } from "../gpu/ops/attention.ts";

/**
 * Causal attention for `tokens` new tokens whose keys and values already sit in
 * the cache at slots `pos0 .. pos0+tokens-1` (slot = position): token `t` attends
 * to slots `0 .. pos0+t` with scale `1/sqrt(headDim)`. Decode is `tokens = 1`,
 * `pos0 = n_kv - 1`.
 *
 * @param q queries (tokens × nHead × headDim), already rotated
 * @param kCache keys ([nHeadKv][nSlots][headDim]), already rotated
 * @param vCache values ([nHeadKv][nSlots][headDim])
 * @param tokens number of query tokens
 * @param pos0 position of the first query token
 * @param shape head layout
 * @returns `out` (tokens × nHead × headDim) and `lse` (tokens × nHead), the
 *   natural log of each row's softmax denominator including its max
 * @throws {RangeError} when the heads do not group evenly or the rows run past the cache
 * @example One token, one slot: the output is that slot's value
 * ```ts
 * import assert from "node:assert/strict";
 * import { attention } from "./attention.ts";
 * const shape = { nHead: 1, nHeadKv: 1, headDim: 2, nSlots: 1 };
 * const r = attention(new Float32Array([1, 0]), new Float32Array([1, 0]), new Float32Array([5, 6]), 1, 0, shape);
 * assert.deepEqual([...r.out], [5, 6]);
 * ```
 */
export function attention(
  q: Float32Array,
  kCache: Float32Array,
  vCache: Float32Array,
  tokens: number,
  pos0: number,
  shape: AttentionShape,
): { out: Float32Array; lse: Float32Array } {
  const { nHead, nHeadKv, headDim, nSlots } = checkAttentionShape(shape, tokens, pos0);
  const group = nHead / nHeadKv;
  const scale = 1 / Math.sqrt(headDim);
  const out = new Float32Array(tokens * nHead * headDim); // (tokens, n_head, head_dim)
  const lse = new Float32Array(tokens * nHead); // (tokens, n_head)
  const s = new Float64Array(pos0 + tokens); // scores of one row over its valid slots
  for (let t = 0; t < tokens; t++) {
    const nValid = pos0 + t + 1;
    for (let h = 0; h < nHead; h++) {
      const qBase = (t * nHead + h) * headDim;
      const kvBase = Math.floor(h / group) * nSlots * headDim;
      let max = -Infinity;
      for (let j = 0; j < nValid; j++) {
        let dot = 0;
        for (let d = 0; d < headDim; d++) dot += q[qBase + d]! * kCache[kvBase + j * headDim + d]!;
        s[j] = dot * scale;
        if (s[j]! > max) max = s[j]!;
      }
      let sum = 0;
      for (let j = 0; j < nValid; j++) {
        s[j] = Math.exp(s[j]! - max);
        sum += s[j]!;
      }
      for (let d = 0; d < headDim; d++) {
        let acc = 0;
        for (let j = 0; j < nValid; j++) acc += s[j]! * vCache[kvBase + j * headDim + d]!;
        out[qBase + d] = acc / sum;
      }
      lse[t * nHead + h] = max + Math.log(sum);
    }
  }
  return { out, lse };
}

/**
 * Validates an attention shape for `tokens` rows starting at `pos0`.
 *
 * @param shape head layout
 * @param tokens query rows
 * @param pos0 position of the first row
 * @returns `shape`
 * @throws {RangeError} when the heads do not group evenly or the rows run past the cache
 * @example Three rows from position 2 fit 16 slots; from position 14 they do not
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkAttentionShape } from "./attention.ts";
 * const shape = { nHead: 4, nHeadKv: 2, headDim: 8, nSlots: 16 };
 * assert.equal(checkAttentionShape(shape, 3, 2), shape);
 * assert.throws(() => checkAttentionShape(shape, 3, 14), RangeError);
 * ```
 */
export function checkAttentionShape(
  shape: AttentionShape,
  tokens: number,
  pos0: number,
): AttentionShape {
  const { nHead, nHeadKv, nSlots } = shape;
  if (nHeadKv <= 0 || nHead % nHeadKv !== 0) {
    throw new RangeError(
      `Cannot run attention: ${nHead} query heads do not group over ${nHeadKv} KV heads`,
    );
  }
  if (pos0 + tokens > nSlots) {
    throw new RangeError(
      `Cannot run attention: positions ${pos0}..${
        pos0 + tokens - 1
      } run past ${nSlots} cache slots`,
    );
  }
  return shape;
}
