/**
 * The CPU twin of D2O's compensation step (docs/method.md §5, §9 Q7), for
 * any policy whose spec merges (`KvGpuSpec.merge`): each evicted token's
 * nearest kept slot by key cosine (decode: any other occupied slot, the new
 * token included). The layer threshold τ starts at the mean best similarity
 * of the first compression and then follows `τ ← (1−β)·τ + β·m̄` with `m̄`
 * the mean over heads (and evicted tokens) of this event's best
 * similarities; τ is updated first, then a token merges when `m ≥ τ` — per
 * (head, token) by default, or for all heads at once when the head mean
 * passes (`parity`, the reference code's `--merge-decision head-mean`).
 *
 * f32 order of the threshold: `m̄ = fround(Σ m)/count` with the sum in (head,
 * position) order; `τ = fround(fround(fround(1−β)·τ) + fround(fround(β)·m̄))`.
 *
 * @module
 */

import type { KvMergeSpec } from "../../kv/policy.ts";
import type { CompressDecision, KvLayerView, StepDecision } from "./layer_view.ts";
import { nearestSlot } from "./similarity.ts";
import { FREE } from "./slot_table.ts";

/**
 * One EMA update of the threshold in f32; an unset (NaN) threshold starts at `mean`.
 *
 * @param tau previous threshold, NaN when unset
 * @param mean this event's mean best similarity
 * @param beta weight of the new observation
 * @returns the new threshold
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { updateTau } from "./similarity_merge.ts";
 * assert.equal(updateTau(NaN, 0.5, 0.7), 0.5); // unset: starts at the mean
 * assert.equal(updateTau(0.5, 1, 0.25), 0.75 * 0.5 + 0.25 * 1); // 0.625
 * ```
 */
export function updateTau(tau: number, mean: number, beta: number): number {
  const f = Math.fround;
  if (Number.isNaN(tau)) return f(mean);
  return f(f(f(1 - beta) * tau) + f(f(beta) * mean));
}

/**
 * Adds merges to a bulk compression that drops its evicted tokens: finds
 * each evicted token's nearest kept slot, updates τ with the mean best
 * similarity, and merges the tokens at or above τ.
 *
 * @param merge the policy's merge settings
 * @param view the layer before compression
 * @param dropped the selection's decision (keep flags; no merge targets, NaN similarities)
 * @returns the decision with merge targets, similarities and the new τ
 * @throws {RangeError} in parity mode when heads evict different counts
 */
export function mergeBulk(
  merge: KvMergeSpec,
  view: KvLayerView,
  dropped: CompressDecision,
): CompressDecision {
  const f = Math.fround;
  const { nHeadKv, nSlots } = view;
  const { keep, similarity, mergeTarget } = dropped;
  const target = new Int32Array(nHeadKv * nSlots).fill(-1);
  const evicted: number[][] = [];
  let sum = 0;
  let count = 0;
  for (let h = 0; h < nHeadKv; h++) {
    const base = h * nSlots;
    const list: number[] = [];
    for (let s = 0; s < nSlots; s++) {
      if (view.pos[base + s] !== FREE && keep[base + s] === 0) list.push(s);
    }
    list.sort((a, b) => view.pos[base + a]! - view.pos[base + b]!);
    for (const e of list) {
      const near = nearestSlot(view, h, e, (c) => keep[base + c] === 1);
      similarity[base + e] = near.similarity;
      target[base + e] = near.slot;
      sum = f(sum + near.similarity);
      count++;
    }
    evicted.push(list);
  }
  if (count === 0) return dropped;
  const tau = updateTau(view.tau, f(sum / count), merge.beta);
  const passes = merge.parity
    ? headMeanPasses(view, evicted, similarity, tau)
    : (h: number, e: number) => similarity[h * nSlots + e]! >= tau;
  evicted.forEach((list, h) => {
    for (const e of list) {
      if (passes(h, e)) mergeTarget[h * nSlots + e] = target[h * nSlots + e]!;
    }
  });
  return { ...dropped, tau };
}

/**
 * Adds merges to a decode step that drops its victims: finds each victim's
 * nearest other occupied slot, updates τ with the head mean, and merges the
 * victims at or above τ.
 *
 * @param merge the policy's merge settings
 * @param view the layer after the step's token and attention were added
 * @param dropped the selection's decision (victims; no merge targets, NaN similarities)
 * @returns the decision with merge targets, similarities and the new τ
 * @throws {RangeError} when some heads evict and others do not
 */
export function mergeStep(
  merge: KvMergeSpec,
  view: KvLayerView,
  dropped: StepDecision,
): StepDecision {
  const f = Math.fround;
  const { nHeadKv, nSlots } = view;
  const { evictSlot, similarity, mergeTarget } = dropped;
  const evicting = evictSlot.filter((s) => s >= 0).length;
  if (evicting === 0) return dropped;
  if (evicting !== nHeadKv) {
    throw new RangeError(`Cannot merge: ${evicting} of ${nHeadKv} KV heads evict at this step`);
  }
  const target = new Int32Array(nHeadKv);
  let sum = 0;
  for (let h = 0; h < nHeadKv; h++) {
    const victim = evictSlot[h]!;
    const base = h * nSlots;
    const near = nearestSlot(view, h, victim, (c) => c !== victim && view.pos[base + c] !== FREE);
    similarity[h] = near.similarity;
    target[h] = near.slot;
    sum = f(sum + near.similarity);
  }
  const mean = f(sum / nHeadKv);
  const tau = updateTau(view.tau, mean, merge.beta);
  for (let h = 0; h < nHeadKv; h++) {
    const passes = merge.parity ? mean >= tau : similarity[h]! >= tau;
    if (passes) mergeTarget[h] = target[h]!;
  }
  return { ...dropped, tau };
}

/** Parity rule: the j-th evicted token of every head merges when the head mean of their similarities passes. */
function headMeanPasses(
  view: KvLayerView,
  evicted: number[][],
  similarity: Float32Array,
  tau: number,
): (h: number, e: number) => boolean {
  const f = Math.fround;
  const { nHeadKv, nSlots } = view;
  const perHead = evicted[0]?.length ?? 0;
  if (evicted.some((list) => list.length !== perHead)) {
    throw new RangeError("Cannot apply the head-mean merge rule: heads evicted different counts");
  }
  const pass = new Uint8Array(perHead);
  for (let j = 0; j < perHead; j++) {
    let sum = 0;
    for (let h = 0; h < nHeadKv; h++) sum = f(sum + similarity[h * nSlots + evicted[h]![j]!]!);
    pass[j] = f(sum / nHeadKv) >= tau ? 1 : 0;
  }
  return (h, e) => pass[evicted[h]!.indexOf(e)] === 1;
}
