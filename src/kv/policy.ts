/**
 * The KV policy interface (docs/style.md §1, after kvpress `BasePress` and
 * llama.cpp `llama_sampler_i`): a policy has a `name`, a `plan` that turns the
 * model shape and the prefill statistics into per-layer budgets, and two
 * decisions over one layer's slot table, which the CPU twin
 * (`src/reference/kv/`) applies and the GPU kernels reproduce from the
 * policy's spec (they never see the policy):
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
 * Besides its decisions, a policy declares what the GPU must do as data
 * ({@linkcode KvGpuSpec}): where its scores come from, whether its plan needs
 * the head variances, how it merges and what it does while decoding. The GPU
 * side reads that spec and the plan's budgets, never the policy's name.
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

import type { KvOptions, KvPolicyName, MergeRule } from "./option_types.ts";

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

/**
 * Where a policy's prefill scores come from:
 * - `none`: no scores (the selection only keeps sinks and the window);
 * - `attention`: every prompt query's attention summed per key (H2O, D2O);
 * - `window`: the attention of the last `window` prompt queries only (SnapKV).
 */
export type KvScoreSource = "none" | "attention" | "window";

/**
 * What a policy does while decoding:
 * - `evict`: one eviction per token and KV head once a layer holds `C + 1`;
 * - `grow`: compress once at prefill, then the cache grows (no eviction);
 * - `none`: never compress (the full cache).
 */
export type KvDecodeMode = "evict" | "grow" | "none";

/** How evicted tokens merge into their nearest kept key (docs/method.md §5). */
export interface KvMergeSpec {
  /** Merge weights. */
  readonly rule: MergeRule;
  /** Logit of the target's own weight (paper rule). */
  readonly selfLogit: number;
  /** EMA weight of the new observation in the threshold τ. */
  readonly beta: number;
  /** Head-mean merge decision (the reference code's). */
  readonly parity: boolean;
  /** A merge rewrites the value only; the kept key stays as it is. */
  readonly valuesOnly: boolean;
}

/** A policy's GPU work as data: the cache and the kernels read this, never a policy name. */
export interface KvGpuSpec {
  /** Where the prefill scores come from. */
  readonly score: KvScoreSource;
  /** Observation window in prompt queries (score `window`); 0 otherwise. */
  readonly window: number;
  /** Width of the 1-D max pool over positions applied to the prefill scores (odd; 1 = none). */
  readonly pool: number;
  /** Whether the plan needs the per-query-head variance of the prefill column sums. */
  readonly headVariance: boolean;
  /** Similarity merging of evicted tokens, or null to drop them. */
  readonly merge: KvMergeSpec | null;
  /** What happens while decoding. */
  readonly decode: KvDecodeMode;
}

/** A KV-cache policy: budgets per layer plus the per-layer decisions. */
export interface KvPolicy {
  /** Policy name, as `--kv` spells it. */
  readonly name: KvPolicyName;
  /** The validated options the policy was made with. */
  readonly options: KvOptions;
  /** What the GPU does for this policy, as data. */
  readonly spec: KvGpuSpec;
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

/** One flag a policy declares for itself (beside the common KV flags). */
export interface KvFlag {
  /** Commander spelling with its value, e.g. `--snap-window <n>`. */
  readonly flag: string;
  /** Key in `KvOptions.params` and in commander's parsed options, e.g. `snapWindow`. */
  readonly key: string;
  /** Help text (the default is appended). */
  readonly help: string;
  /** Value when the flag is not given. */
  readonly default: number | string;
  /**
   * Validates a raw value.
   *
   * @param raw the flag's text or a caller's number
   * @returns the value stored in `KvOptions.params`
   * @throws {UsageError} naming the flag when the value is bad
   */
  parse(raw: string | number): number | string;
}

/** A registry row: everything the program knows about a policy comes from here. */
export interface KvPolicyEntry {
  /** Name, as `--kv` spells it. */
  readonly name: KvPolicyName;
  /** One line for help texts and the README. */
  readonly summary: string;
  /** Defaults of the common flags that differ by policy. */
  readonly defaults: { readonly sinks: number; readonly recentRatio: number };
  /** The flags this policy declares (values land in `KvOptions.params`). */
  readonly flags: readonly KvFlag[];
  /**
   * The policy's own settings for a one-line description (after the budget
   * and sinks), e.g. `["recent ratio 0.5"]`.
   *
   * @param options validated KV options naming this policy
   */
  describe?(options: KvOptions): string[];
  /**
   * Makes the policy from validated options.
   *
   * @param options validated KV options naming this policy
   */
  create(options: KvOptions): KvPolicy;
}
