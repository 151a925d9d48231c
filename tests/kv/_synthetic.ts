/**
 * Seeded synthetic attention inputs for the KV policy tests: per layer and
 * token, queries, rotated keys drawn around a few cluster centres per KV head
 * (so cosine merges happen) and values; plus the prefill inputs the cache
 * takes (keys/values per head, group-summed column sums) and the per-head
 * column-sum variances d2o plans from.
 *
 * @module
 */

import type { KvShape } from "../../src/kv/policy.ts";
import { makeRng, randn } from "../../src/reference/prng.ts";
import {
  causalColumnSums,
  columnVariance,
  groupColumnSums,
} from "../../src/reference/kv/column_sums.ts";

/** One layer's synthetic sequence. */
export interface SyntheticLayer {
  /** Queries per token (nHead × headDim). */
  readonly q: Float32Array[];
  /** Keys per token (nHeadKv × headDim). */
  readonly k: Float32Array[];
  /** Values per token (nHeadKv × headDim). */
  readonly v: Float32Array[];
}

/** Makes `tokens` tokens of seeded data for each layer; later layers attend more sharply. */
export function syntheticSequence(seed: number, shape: KvShape, tokens: number): SyntheticLayer[] {
  const { nLayer, nHead, nHeadKv, headDim } = shape;
  return Array.from({ length: nLayer }, (_, l) => {
    const rng = makeRng(seed * 101 + l);
    const centres = Array.from(
      { length: nHeadKv * 4 },
      () => Float32Array.from({ length: headDim }, () => randn(rng)),
    );
    const sharp = 0.5 + l;
    const q: Float32Array[] = [];
    const k: Float32Array[] = [];
    const v: Float32Array[] = [];
    for (let t = 0; t < tokens; t++) {
      q.push(Float32Array.from({ length: nHead * headDim }, () => sharp * randn(rng)));
      const kt = new Float32Array(nHeadKv * headDim);
      for (let h = 0; h < nHeadKv; h++) {
        const c = centres[h * 4 + Math.floor(rng() * 4)]!;
        for (let d = 0; d < headDim; d++) kt[h * headDim + d] = c[d]! + 0.35 * randn(rng);
      }
      k.push(kt);
      v.push(Float32Array.from({ length: nHeadKv * headDim }, () => randn(rng)));
    }
    return { q, k, v };
  });
}

/** Prefill inputs of one layer for its first `tokens` tokens. */
export function prefillInputs(layer: SyntheticLayer, shape: KvShape, tokens: number) {
  const { nHead, nHeadKv, headDim } = shape;
  const keys = new Float32Array(nHeadKv * tokens * headDim); // (kv_heads, T, head_dim)
  const values = new Float32Array(nHeadKv * tokens * headDim);
  const q = new Float32Array(tokens * nHead * headDim); // (T, n_head, head_dim)
  for (let t = 0; t < tokens; t++) {
    q.set(layer.q[t]!, t * nHead * headDim);
    for (let h = 0; h < nHeadKv; h++) {
      const src = [h * headDim, (h + 1) * headDim] as const;
      keys.set(layer.k[t]!.subarray(...src), (h * tokens + t) * headDim);
      values.set(layer.v[t]!.subarray(...src), (h * tokens + t) * headDim);
    }
  }
  const colsum = causalColumnSums(q, keys, tokens, shape);
  return {
    keys,
    values,
    scores: groupColumnSums(colsum, tokens, shape),
    variance: columnVariance(colsum, tokens, nHead),
  };
}
