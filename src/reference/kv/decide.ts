/**
 * The CPU twin of a policy's decisions over one layer, from its spec alone
 * (as the kernels decide: they never see a policy):
 *
 * - {@linkcode compressDecision}: the bulk compression at the end of prefill
 *   (keep flags, merge targets, the first threshold), the twin of
 *   `kv_compress`;
 * - {@linkcode stepDecision}: one decode step (one victim slot per KV head,
 *   its merge target or −1, the new threshold), the twin of `kv_evict`.
 *
 * Both select with the shared rule (`selection.ts`); a spec that merges
 * (`merge` not null) adds the similarity merge (`similarity_merge.ts`); a
 * spec that does not evict while decoding (`decode` `grow` or `none`) evicts
 * nothing per step.
 *
 * @module
 */

import type { KvGpuSpec } from "../../kv/policy.ts";
import type { CompressDecision, KvLayerView, StepDecision } from "./layer_view.ts";
import { selectKept, selectVictims } from "./selection.ts";
import { mergeBulk, mergeStep } from "./similarity_merge.ts";

/**
 * Decides a bulk compression of a layer holding more than `budget.slots` tokens.
 *
 * @param spec the policy's spec
 * @param view the layer before compression
 * @returns which slots to keep and how the evicted ones merge
 * @example Keep 2 of 4 tokens: the newest (window 1) and the best-scored other
 * ```ts
 * import assert from "node:assert/strict";
 * import { compressDecision } from "./decide.ts";
 * import { baseSpec } from "../../kv/policy_base.ts";
 * const budget = { slots: 2, heavy: 1, recent: 1, sinks: 0, compressed: true };
 * const view = {
 *   budget, nHeadKv: 1, headDim: 1, nSlots: 4, newestPos: 3, tau: NaN,
 *   pos: new Int32Array([0, 1, 2, 3]), score: new Float32Array([0.1, 0.9, 0.3, 0]), keys: new Float32Array(4),
 * };
 * const d = compressDecision(baseSpec({ score: "attention" }), view);
 * assert.deepEqual([...d.keep], [0, 1, 0, 1]); // score 0.9 and the newest token
 * assert.deepEqual([...d.mergeTarget], [-1, -1, -1, -1]); // no merge in the spec: dropped
 * ```
 */
export function compressDecision(spec: KvGpuSpec, view: KvLayerView): CompressDecision {
  const n = view.nHeadKv * view.nSlots;
  const dropped = {
    keep: selectKept(view),
    mergeTarget: new Int32Array(n).fill(-1),
    similarity: new Float32Array(n).fill(NaN),
    tau: view.tau,
  };
  return spec.merge ? mergeBulk(spec.merge, view, dropped) : dropped;
}

/**
 * Decides one decode step, after the step's token was written and its
 * attention added to the scores.
 *
 * @param spec the policy's spec
 * @param view the layer holding at most `budget.slots + 1` tokens
 * @returns one victim per KV head (or none) and its merge target
 * @throws {RangeError} when a head holds more than `budget.slots + 1` tokens
 */
export function stepDecision(spec: KvGpuSpec, view: KvLayerView): StepDecision {
  const { nHeadKv } = view;
  const dropped = {
    evictSlot: spec.decode === "evict" ? selectVictims(view) : new Int32Array(nHeadKv).fill(-1),
    mergeTarget: new Int32Array(nHeadKv).fill(-1),
    similarity: new Float32Array(nHeadKv).fill(NaN),
    tau: view.tau,
  };
  return spec.merge ? mergeStep(spec.merge, view, dropped) : dropped;
}
