/**
 * The KV policy interface (style.md §1, after kvpress `BasePress` and
 * llama.cpp `llama_sampler_i`): a policy has a `name`, a `plan` that turns the
 * model shape and the prefill statistics into per-layer budgets, and two
 * decisions over one layer's slot table that the GPU kernels execute and the
 * CPU twin (`src/reference/kv/`) applies:
 *
 * - `compress(view)`: the bulk compression at the end of prefill (keep flags,
 *   merge targets, the first threshold);
 * - `decide(view)`: one decode step (one victim slot per KV head, its merge
 *   target or −1, the new threshold).
 *
 * Cache layout per layer ℓ: K and V `[n_kv_heads][n_slots][head_dim]` (keys
 * already rotated at their true position), and a slot table per (KV head,
 * slot): `pos` (i32, −1 = free) and `score` (f32, accumulated attention
 * summed over the KV head's query group). `n_slots = C_ℓ + 1`: after a step
 * writes its token into the free slot the layer holds at most `C_ℓ + 1`
 * tokens, and the step's eviction frees one slot per head for the next token
 * (no compaction copy). The next token of a head goes into its lowest free
 * slot. A layer that is never compressed has `C_ℓ` slots (the capacity).
 *
 * Decisions never mutate; only the cache's `apply` does (style.md §2).
 * Tie-breaking everywhere (d2o-method.md §9 Q17): the higher score is kept;
 * among equal scores the older position is kept; among equal similarities
 * the older position is the merge target; the lower slot index breaks what
 * is left. All decision arithmetic is f32 (`Math.fround`) in a fixed order so
 * a WGSL kernel can reproduce it.
 *
 * @module
 */

import type { KvOptions, KvPolicyName } from "./options.ts";

/** The model shape a plan needs. */
export interface KvShape {
  /** Transformer layers `L`. */
  readonly nLayer: number;
  /** Query heads. */
  readonly nHead: number;
  /** KV heads (divides `nHead`). */
  readonly nHeadKv: number;
  /** Values per head. */
  readonly headDim: number;
}

/** What is known when budgets are planned (after prefill). */
export interface PlanStats {
  /** `T'`: tokens in the sequence when the cache is first compressed (the prompt length). */
  readonly promptLength: number;
  /** Most tokens the sequence will ever hold (prompt + generation): the full cache and every budget's ceiling. */
  readonly capacity: number;
  /** d2o only: per layer, the unbiased variance over keys of each query head's prefill column sums (`[nLayer][nHead]`). */
  readonly headVariance?: readonly ArrayLike<number>[];
}

/** The budget of one layer. */
export interface LayerBudget {
  /** `C_ℓ`: tokens kept after each step; the cache allocates `C_ℓ + 1` slots. */
  readonly slots: number;
  /** `N_ℓ`: heavy hitters, sinks included. */
  readonly heavy: number;
  /** `M_ℓ`: the recent window (the newest `M_ℓ` positions are always kept). */
  readonly recent: number;
  /** Positions `0 .. sinks−1` are never evicted (`sinks ≤ heavy`). */
  readonly sinks: number;
  /** Whether this layer is compressed at all; when false it never evicts. */
  readonly compressed: boolean;
}

/** Per-layer budgets and, for d2o, the statistics behind them. */
export interface KvPlan {
  /** One budget per layer. */
  readonly layers: readonly LayerBudget[];
  /** d2o: the layer statistic `F^ℓ` in [0, 1]; otherwise null. */
  readonly statistic: Float64Array | null;
  /** d2o: the layer share `α_ℓ = L·softmax(−F)_ℓ`; otherwise null. */
  readonly share: Float64Array | null;
  /** Nominal total of `C_ℓ` over compressed layers (the target the budgets add up to in exact mode). */
  readonly nominalSlots: number;
}

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

/** A KV-cache policy: budgets per layer plus the per-layer decisions. */
export interface KvPolicy {
  /** Policy name, as `--kv` spells it. */
  readonly name: KvPolicyName;
  /** The validated options the policy was made with. */
  readonly options: KvOptions;
  /**
   * Plans the per-layer budgets.
   *
   * @param shape model shape
   * @param stats prompt length, capacity and (d2o) prefill statistics
   * @returns one budget per layer
   */
  plan(shape: KvShape, stats: PlanStats): KvPlan;
  /**
   * Decides a bulk compression of a layer holding more than `budget.slots` tokens.
   *
   * @param view the layer before compression
   * @returns which slots to keep and how the evicted ones merge
   */
  compress(view: KvLayerView): CompressDecision;
  /**
   * Decides one decode step, after the step's token was written and its
   * attention added to the scores.
   *
   * @param view the layer holding at most `budget.slots + 1` tokens
   * @returns one victim per KV head (or none) and its merge target
   */
  decide(view: KvLayerView): StepDecision;
}
