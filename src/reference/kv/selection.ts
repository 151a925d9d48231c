/**
 * The CPU twin of the selection every evicting policy shares (docs/style.md §1,
 * after kvpress `ScorerPress`): "keep the sinks and the recent window, evict
 * the lowest accumulated score among the rest". The kernels `kv_compress`
 * and `kv_evict` do the same from the layer's spec; `decide.ts` adds the
 * policy's merge step when its spec merges.
 *
 * Per KV head of a compressed layer holding `n` tokens, newest position `t`:
 * - sinks: positions `< budget.sinks`, never evicted;
 * - recent window: positions `> t − budget.recent`, never evicted;
 * - candidates: the rest, ranked by score (higher kept; equal scores: older
 *   position kept; then lower slot kept).
 *
 * Bulk compression (`n > C`) keeps the sinks, the window and the best
 * `C − forced` candidates, so exactly `C` tokens stay. A decode step (`n = C+1`)
 * evicts the single lowest-ranked candidate. A layer within budget, or not
 * compressed, evicts nothing.
 *
 * @module
 */

import type { KvLayerView } from "./layer_view.ts";
import { FREE } from "./slot_table.ts";

/**
 * Whether slot `a` ranks below slot `b` for keeping (it would be evicted first):
 * lower score, or equal score and newer position, or equal both and higher slot.
 *
 * @param view the layer
 * @param i flat (head, slot) index of `a`
 * @param j flat (head, slot) index of `b`
 * @returns true when `a` is evicted before `b`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ranksBelow } from "./selection.ts";
 * const view = { pos: new Int32Array([0, 1, 2]), score: new Float32Array([0.5, 0.5, 0.9]) };
 * assert.equal(ranksBelow(view, 1, 0), true); // equal scores: the newer goes first
 * assert.equal(ranksBelow(view, 0, 1), false);
 * assert.equal(ranksBelow(view, 1, 2), true); // lower score
 * ```
 */
export function ranksBelow(
  view: Pick<KvLayerView, "pos" | "score">,
  i: number,
  j: number,
): boolean {
  const si = view.score[i]!;
  const sj = view.score[j]!;
  if (si !== sj) return si < sj;
  const pi = view.pos[i]!;
  const pj = view.pos[j]!;
  return pi !== pj ? pi > pj : i > j;
}

/**
 * Whether an occupied (head, slot) is protected: a sink or in the recent window.
 *
 * @param view the layer
 * @param index flat (head, slot) index
 * @returns true when the slot can never be evicted at this step
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isProtected } from "./selection.ts";
 * const budget = { slots: 3, heavy: 2, recent: 1, sinks: 1, compressed: true };
 * const view = { budget, newestPos: 5, pos: new Int32Array([0, 3, 5]) };
 * // Position 0 is the sink, 5 the window of one; 3 is a candidate
 * assert.deepEqual([0, 1, 2].map((i) => isProtected(view, i)), [true, false, true]);
 * ```
 */
export function isProtected(
  view: Pick<KvLayerView, "budget" | "newestPos" | "pos">,
  index: number,
): boolean {
  const p = view.pos[index]!;
  return p < view.budget.sinks || p > view.newestPos - view.budget.recent;
}

/**
 * Selects the slots a bulk compression keeps: every occupied slot when the
 * layer is within budget or not compressed, else per head the sinks, the
 * recent window and the top-ranked candidates up to `budget.slots`.
 *
 * @param view the layer before compression
 * @returns keep flags `[nHeadKv][nSlots]`
 * @example Keep 2 of 4 tokens: the newest (window 1) and the best-scored other
 * ```ts
 * import assert from "node:assert/strict";
 * import { selectKept } from "./selection.ts";
 * const budget = { slots: 2, heavy: 1, recent: 1, sinks: 0, compressed: true };
 * const view = { budget, nHeadKv: 1, nSlots: 4, newestPos: 3, pos: new Int32Array([0, 1, 2, 3]), score: new Float32Array([0.1, 0.9, 0.3, 0]) };
 * assert.deepEqual([...selectKept(view)], [0, 1, 0, 1]);
 * // Within budget nothing goes
 * assert.deepEqual([...selectKept({ ...view, budget: { ...budget, slots: 4, heavy: 3 } })], [1, 1, 1, 1]);
 * ```
 */
export function selectKept(
  view: Pick<KvLayerView, "budget" | "nHeadKv" | "nSlots" | "newestPos" | "pos" | "score">,
): Uint8Array {
  const { budget, nHeadKv, nSlots } = view;
  const keep = new Uint8Array(nHeadKv * nSlots);
  const candidates: number[] = [];
  for (let h = 0; h < nHeadKv; h++) {
    candidates.length = 0;
    let kept = 0;
    let occupied = 0;
    for (let s = 0; s < nSlots; s++) {
      const i = h * nSlots + s;
      if (view.pos[i] === FREE) continue;
      occupied++;
      if (isProtected(view, i)) {
        keep[i] = 1;
        kept++;
      } else {
        candidates.push(i);
      }
    }
    if (!budget.compressed || occupied <= budget.slots) {
      for (const i of candidates) keep[i] = 1;
      continue;
    }
    candidates.sort((a, b) => (a === b ? 0 : ranksBelow(view, b, a) ? -1 : 1));
    for (let k = 0; k < budget.slots - kept && k < candidates.length; k++) keep[candidates[k]!] = 1;
  }
  return keep;
}

/**
 * Selects one victim per head for a decode step: the lowest-ranked candidate
 * (not a sink, not in the window) when the head holds `budget.slots + 1`
 * tokens; −1 when it holds at most `budget.slots` or the layer is not compressed.
 *
 * @param view the layer after the step's token and attention were added
 * @returns victim slot per head `[nHeadKv]`
 * @throws {RangeError} when a head holds more than `budget.slots + 1` tokens
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { selectVictims } from "./selection.ts";
 * const budget = { slots: 2, heavy: 1, recent: 1, sinks: 0, compressed: true };
 * const view = { budget, nHeadKv: 1, nSlots: 3, newestPos: 2, pos: new Int32Array([0, 1, 2]), score: new Float32Array([0.4, 0.2, 0]) };
 * // 3 tokens in a budget of 2: position 2 is the window, and 0.2 < 0.4
 * assert.deepEqual([...selectVictims(view)], [1]);
 * // Two tokens (slot 2 free, −1): within budget, no victim
 * assert.deepEqual([...selectVictims({ ...view, newestPos: 1, pos: new Int32Array([0, 1, -1]) })], [-1]);
 * ```
 */
export function selectVictims(
  view: Pick<KvLayerView, "budget" | "nHeadKv" | "nSlots" | "newestPos" | "pos" | "score">,
): Int32Array {
  const { budget, nHeadKv, nSlots } = view;
  const victims = new Int32Array(nHeadKv).fill(-1);
  if (!budget.compressed) return victims;
  for (let h = 0; h < nHeadKv; h++) {
    let occupied = 0;
    let victim = -1;
    for (let s = 0; s < nSlots; s++) {
      const i = h * nSlots + s;
      if (view.pos[i] === FREE) continue;
      occupied++;
      if (!isProtected(view, i) && (victim === -1 || ranksBelow(view, i, h * nSlots + victim))) {
        victim = s;
      }
    }
    if (occupied > budget.slots + 1) {
      throw new RangeError(
        `Cannot decide a step for KV head ${h}: it holds ${occupied} tokens, more than ${budget.slots} + 1`,
      );
    }
    if (occupied === budget.slots + 1) victims[h] = victim;
  }
  return victims;
}
