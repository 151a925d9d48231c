/**
 * CPU references of the prefill statistics d2o needs (the twins of the
 * `attn_colsum` and `colsum_stats` kernels): per-key column sums of the
 * causal attention probabilities, their reduction to KV heads (the initial
 * scores) and their per-head variance (the input of the layer statistic).
 * The keys are those the staging cache holds: for an f16 cache, rounded as it
 * stores them (`roundKv` in `src/gpu/ops/kv_elem.ts`), since
 * `kernels/kv_column_sums.wgsl` reads the stored halves.
 *
 * @module
 */

/** Head layout of the attention the column sums come from. */
export interface ColumnSumShape {
  /** Query heads. */
  readonly nHead: number;
  /** KV heads (divides `nHead`). */
  readonly nHeadKv: number;
  /** Values per head. */
  readonly headDim: number;
}

/**
 * Column sums of causal softmax attention: `c[h][j] = Σ_{i ≥ j} P_h[i, j]`
 * with `P_h[i, ·] = softmax_j≤i(q_i·k_j/√d)`. Computed in f64, stored in f32.
 *
 * @param q queries (tokens × nHead × headDim), rotated
 * @param k keys (`[nHeadKv][tokens][headDim]`), rotated
 * @param tokens prompt length `T`
 * @param shape head layout
 * @param fromQuery only query rows `i ≥ fromQuery` count (an observation window; default 0)
 * @returns column sums `[nHead][T]` (each head's sums add up to `T − fromQuery`)
 * @throws {RangeError} when the heads do not group evenly or an array is short
 * @example One head, two tokens: key 0 gets all of row 0 and part of row 1
 * ```ts
 * import assert from "node:assert/strict";
 * import { causalColumnSums } from "./column_sums.ts";
 * const shape = { nHead: 1, nHeadKv: 1, headDim: 1 };
 * const q = new Float32Array([0, 0]); // zero queries: uniform attention over the keys so far
 * const k = new Float32Array([1, 1]);
 * assert.deepEqual([...causalColumnSums(q, k, 2, shape)], [1 + 0.5, 0.5]);
 * assert.deepEqual([...causalColumnSums(q, k, 2, shape, 1)], [0.5, 0.5]); // row 1 alone
 * ```
 */
export function causalColumnSums(
  q: Float32Array,
  k: Float32Array,
  tokens: number,
  shape: ColumnSumShape,
  fromQuery = 0,
): Float32Array {
  const { nHead, nHeadKv, headDim } = shape;
  if (
    nHead % nHeadKv !== 0 || q.length < tokens * nHead * headDim ||
    k.length < nHeadKv * tokens * headDim
  ) {
    throw new RangeError(
      `Cannot compute column sums of ${tokens} tokens with ${nHead}/${nHeadKv} heads of ${headDim}`,
    );
  }
  const group = nHead / nHeadKv;
  const scale = 1 / Math.sqrt(headDim);
  const out = new Float32Array(nHead * tokens); // (n_head, T)
  const sums = new Float64Array(tokens); // column sums of one head
  const p = new Float64Array(tokens); // one row's scores
  for (let h = 0; h < nHead; h++) {
    const kBase = Math.floor(h / group) * tokens * headDim;
    sums.fill(0);
    for (let i = Math.max(0, fromQuery); i < tokens; i++) {
      const qBase = (i * nHead + h) * headDim;
      let max = -Infinity;
      for (let j = 0; j <= i; j++) {
        let dot = 0;
        for (let d = 0; d < headDim; d++) dot += q[qBase + d]! * k[kBase + j * headDim + d]!;
        p[j] = dot * scale;
        max = Math.max(max, p[j]!);
      }
      let z = 0;
      for (let j = 0; j <= i; j++) {
        p[j] = Math.exp(p[j]! - max);
        z += p[j]!;
      }
      for (let j = 0; j <= i; j++) sums[j] = sums[j]! + p[j]! / z;
    }
    for (let j = 0; j < tokens; j++) out[h * tokens + j] = sums[j]!;
  }
  return out;
}

/**
 * Sums query-head column sums into their KV head (the initial scores), in f32
 * in query-head order.
 *
 * @param colsum `[nHead][T]`
 * @param tokens `T`
 * @param shape head layout
 * @returns scores `[nHeadKv][T]`
 * @example Two query heads share one KV head
 * ```ts
 * import assert from "node:assert/strict";
 * import { groupColumnSums } from "./column_sums.ts";
 * const s = groupColumnSums(new Float32Array([1, 2, 3, 4]), 2, { nHead: 2, nHeadKv: 1, headDim: 1 });
 * assert.deepEqual([...s], [1 + 3, 2 + 4]);
 * ```
 */
export function groupColumnSums(
  colsum: Float32Array,
  tokens: number,
  shape: ColumnSumShape,
): Float32Array {
  const { nHead, nHeadKv } = shape;
  const group = nHead / nHeadKv;
  const out = new Float32Array(nHeadKv * tokens); // (n_kv_heads, T)
  for (let h = 0; h < nHead; h++) {
    const g = Math.floor(h / group);
    for (let j = 0; j < tokens; j++) {
      out[g * tokens + j] = Math.fround(out[g * tokens + j]! + colsum[h * tokens + j]!);
    }
  }
  return out;
}

/**
 * Unbiased variance over keys of each head's column sums (0 for one token).
 *
 * @param colsum `[nHead][T]`
 * @param tokens `T`
 * @param nHead query heads
 * @returns variance per head `[nHead]` (computed in f64)
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { columnVariance } from "./column_sums.ts";
 * // Mean 2, squared deviations 1 + 1, over T − 1 = 1
 * assert.deepEqual([...columnVariance(new Float32Array([1, 3]), 2, 1)], [2]);
 * assert.deepEqual([...columnVariance(new Float32Array([1, 3]), 1, 2)], [0, 0]); // one token
 * ```
 */
export function columnVariance(colsum: Float32Array, tokens: number, nHead: number): Float64Array {
  const out = new Float64Array(nHead);
  if (tokens < 2) return out;
  for (let h = 0; h < nHead; h++) {
    let mean = 0;
    for (let j = 0; j < tokens; j++) mean += colsum[h * tokens + j]!;
    mean /= tokens;
    let ss = 0;
    for (let j = 0; j < tokens; j++) ss += (colsum[h * tokens + j]! - mean) ** 2;
    out[h] = ss / (tokens - 1);
  }
  return out;
}

/**
 * Max pool of each KV head's scores over positions `[from, end)` with a
 * window of `width` (odd), clipped at both ends; positions outside the range
 * keep their score. Exact in f32 (the twin of kv_compress's `pool` stage).
 *
 * @param scores `[nHeadKv][T]`
 * @param nHeadKv KV heads
 * @param tokens `T`
 * @param width pool width (1: a copy)
 * @param from first pooled position (the sinks before it are not pooled)
 * @param end one past the last pooled position (the window after it is not pooled)
 * @returns pooled scores `[nHeadKv][T]`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { maxPoolScores } from "./column_sums.ts";
 * // Width 3 over [0, 4): position 3 sees 2 and 0 (not 9, past the end); position 4 keeps its 9
 * assert.deepEqual([...maxPoolScores(new Float32Array([1, 5, 2, 0, 9]), 1, 5, 3, 0, 4)], [5, 5, 5, 2, 9]);
 * ```
 */
export function maxPoolScores(
  scores: Float32Array,
  nHeadKv: number,
  tokens: number,
  width: number,
  from: number,
  end: number,
): Float32Array {
  const out = scores.slice(0, nHeadKv * tokens);
  const r = (width - 1) / 2;
  for (let g = 0; g < nHeadKv; g++) {
    const base = g * tokens;
    for (let j = from; j < end; j++) {
      let m = scores[base + j]!;
      for (let i = Math.max(from, j - r); i < Math.min(end, j + r + 1); i++) {
        m = Math.max(m, scores[base + i]!);
      }
      out[base + j] = m;
    }
  }
  return out;
}
