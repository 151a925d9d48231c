/**
 * CPU twin of `kernels/sample.wgsl`: llama.cpp's sampler chain (repetition
 * penalty → top-k → top-p → min-p → temperature → softmax → draw), written
 * plainly with sorts where the GPU bisects, and the same counter-based random
 * number, so both pick the same token from the same logits.
 *
 * Tie and order conventions shared with the GPU: every token tied with the
 * k-th largest (or with the top-p cut-off) value is kept; the draw walks the
 * kept tokens in id order; NaN logits are never kept.
 *
 * @module
 */

import type { SamplerParams } from "../sample/params.ts";
import { randomUnit } from "../sample/random.ts";

/**
 * Order-preserving u32 key of an f32 (larger float, larger key); NaN maps to 0.
 *
 * @param v value (rounded to f32)
 * @returns the key
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sortKey } from "./sample.ts";
 * const keys = [-Infinity, -1, 0, 2].map(sortKey);
 * assert.ok(keys.every((k, i) => i === 0 || keys[i - 1]! < k)); // the order is kept
 * assert.equal(sortKey(0), 0x80000000); // +0's bits with the sign bit set
 * assert.equal(sortKey(NaN), 0);
 * ```
 */
export function sortKey(v: number): number {
  if (Number.isNaN(v)) return 0;
  const bits = new Uint32Array(new Float32Array([v]).buffer)[0]!;
  return (bits & 0x80000000 ? ~bits : bits | 0x80000000) >>> 0;
}

/**
 * Picks the next token from `logits` after the tokens in `history`.
 *
 * @param logits scores over the vocabulary (not modified)
 * @param history every token accepted so far (prompt included); its length is
 *   the random counter and its last `repeatLastN` entries are penalised
 * @param params sampler settings (`seed` is the random stream)
 * @returns the chosen token id
 * @example Greedy sampling picks the top logit
 * ```ts
 * import assert from "node:assert/strict";
 * import { sample } from "./sample.ts";
 * import { samplerParams } from "../sample/params.ts";
 * const greedy = samplerParams({ temperature: 0 });
 * assert.equal(sample(new Float32Array([0, 3, 1]), [], greedy), 1);
 * assert.equal(sample(new Float32Array([3, 0, 3]), [], greedy), 0); // ties to the lowest id
 * const topOne = samplerParams({ temperature: 0.8, topK: 1, seed: 7 }); // one token left to draw
 * assert.equal(sample(new Float32Array([0, 3, 1]), [], topOne), 1);
 * ```
 */
export function sample(
  logits: Float32Array,
  history: ArrayLike<number>,
  params: SamplerParams,
): number {
  const n = logits.length;
  const l = applyPenalty(logits, history, params);
  // Greedy: the top logit, ties to the lowest id.
  let best = -1;
  for (let i = 0; i < n; i++) if (!Number.isNaN(l[i]!) && (best < 0 || l[i]! > l[best]!)) best = i;
  if (best < 0) return 0;
  const m = l[best]!;
  if (params.temperature <= 0 || m === -Infinity) return best;
  const keys = Array.from(l, sortKey);
  let tau = 1; // lowest kept key (0 = NaN is never kept)
  // top-k: keep keys ≥ the k-th largest.
  if (params.topK > 0 && params.topK < n) {
    const sorted = keys.slice().sort((a, b) => b - a);
    tau = Math.max(tau, sorted[params.topK - 1]!);
  }
  // top-p: keep each token whose strictly-more-likely candidates hold < p of the mass.
  if (params.topP < 1) {
    const cand = keys.map((k, i) => ({ k, w: Math.exp(l[i]! - m) })).filter((c) => c.k >= tau);
    cand.sort((a, b) => b.k - a.k);
    const target = params.topP * cand.reduce((s, c) => s + c.w, 0);
    let above = 0;
    let cut = sortKey(m);
    for (let i = 0; i < cand.length;) {
      const k = cand[i]!.k;
      if (!(above < target)) break;
      cut = k;
      for (; i < cand.length && cand[i]!.k === k; i++) above += cand[i]!.w;
    }
    tau = Math.max(tau, cut);
  }
  // min-p: keep logits ≥ max + ln(min_p).
  if (params.minP > 0) {
    tau = Math.max(tau, sortKey(Math.fround(m + Math.fround(Math.log(params.minP)))));
  }
  // Temperature, softmax and the draw, in id order.
  const invTemp = Math.fround(1 / params.temperature);
  const w = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    if (keys[i]! >= tau) {
      w[i] = Math.exp(Math.fround(Math.fround(l[i]! - m) * invTemp));
      total += w[i]!;
    }
  }
  const target = randomUnit(params.seed, history.length) * total;
  let acc = 0;
  let last = best;
  for (let i = 0; i < n; i++) {
    if (w[i]! > 0) {
      acc += w[i]!;
      last = i;
      if (target < acc) return i;
    }
  }
  return last;
}

/**
 * The logits after llama.cpp's repetition penalty: each distinct token among
 * the last `repeatLastN` of `history` has its logit divided by the penalty when
 * positive, multiplied when not (in f32, via the rounded reciprocal, as the GPU).
 *
 * @param logits scores (not modified)
 * @param history accepted tokens
 * @param params sampler settings
 * @returns a penalised copy
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { applyPenalty } from "./sample.ts";
 * import { samplerParams } from "../sample/params.ts";
 * const p = samplerParams({ repeatPenalty: 2 });
 * // token 0 (seen twice, penalised once): 4 / 2; token 1: -4 · 2; token 2 unseen
 * assert.deepEqual([...applyPenalty(new Float32Array([4, -4, 4]), [0, 1, 0], p)], [2, -8, 4]);
 * ```
 */
export function applyPenalty(
  logits: Float32Array,
  history: ArrayLike<number>,
  params: SamplerParams,
): Float32Array {
  const l = Float32Array.from(logits);
  if (params.repeatPenalty === 1 || params.repeatLastN === 0) return l;
  const penalty = Math.fround(params.repeatPenalty);
  const inverse = Math.fround(1 / params.repeatPenalty);
  const seen = new Set<number>();
  for (let j = Math.max(0, history.length - params.repeatLastN); j < history.length; j++) {
    const tok = history[j]!;
    if (seen.has(tok) || tok >= l.length) continue;
    seen.add(tok);
    l[tok] = l[tok]! * (l[tok]! > 0 ? inverse : penalty);
  }
  return l;
}
