/**
 * What the CPU twin's decisions read and return: a read-only view of one
 * layer's cache, one decode step's decision and a bulk compression's
 * decision. The GPU kernels reach the same decisions from the policy's spec
 * (`KvGpuSpec`); the twin's are computed in `decide.ts`.
 *
 * Decisions never mutate; only the cache's `apply` does (docs/style.md §2).
 * Tie-breaking everywhere (docs/method.md §9 Q17): the higher score is kept;
 * among equal scores the older position is kept; among equal similarities
 * the older position is the merge target; the lower slot index breaks what
 * is left. All decision arithmetic is f32 (`Math.fround`) in a fixed order so
 * a WGSL kernel can reproduce it.
 *
 * @module
 */

import type { LayerBudget } from "../../kv/policy.ts";

/** A read-only view of one layer's cache that decisions are computed from. */
export interface KvLayerView {
  /** This layer's budget. */
  readonly budget: LayerBudget;
  /** KV heads. */
  readonly nHeadKv: number;
  /** Values per head. */
  readonly headDim: number;
  /** Slots per KV head. */
  readonly nSlots: number;
  /** Original position per (head, slot), −1 = free: `[nHeadKv][nSlots]`. */
  readonly pos: Int32Array;
  /** Accumulated attention per (head, slot): `[nHeadKv][nSlots]`. */
  readonly score: Float32Array;
  /** Rotated keys: `[nHeadKv][nSlots][headDim]`. */
  readonly keys: Float32Array;
  /** Position of the newest token in the layer (the recent window ends here). */
  readonly newestPos: number;
  /** The layer's merge threshold τ; NaN until the layer is first compressed. */
  readonly tau: number;
}

/** One decode step's decision for one layer. */
export interface StepDecision {
  /** Slot each KV head evicts, −1 when the layer is within budget: `[nHeadKv]`. */
  readonly evictSlot: Int32Array;
  /** Slot the victim merges into, −1 to drop it: `[nHeadKv]`. */
  readonly mergeTarget: Int32Array;
  /** The victim's best cosine similarity to another occupied slot (NaN when not computed): `[nHeadKv]`. */
  readonly similarity: Float32Array;
  /** The layer's threshold after this step (NaN while unset). */
  readonly tau: number;
}

/** A bulk compression's decision for one layer (over the view's slots). */
export interface CompressDecision {
  /** 1 for each occupied slot kept: `[nHeadKv][nSlots]`. */
  readonly keep: Uint8Array;
  /** For evicted slots, the kept slot they merge into; −1 for kept, dropped and free slots: `[nHeadKv][nSlots]`. */
  readonly mergeTarget: Int32Array;
  /** For evicted slots, the best cosine similarity to a kept slot (NaN elsewhere or when not computed): `[nHeadKv][nSlots]`. */
  readonly similarity: Float32Array;
  /** The layer's threshold after this compression (NaN while unset). */
  readonly tau: number;
}
