/**
 * The KV policy interface (docs/style.md §1, after kvpress `BasePress` and
 * llama.cpp `llama_sampler_i`): a policy has a `name`, a `plan` that turns
 * the model shape and the prefill statistics into per-layer budgets, and a
 * `spec` that says as data what the GPU does for it ({@linkcode KvGpuSpec}):
 * where its scores come from, whether its plan needs the head variances, how
 * it merges and what it does while decoding. The GPU side reads that spec and
 * the plan's budgets, never the policy's name; so does the CPU twin of the
 * decisions (`src/reference/kv/decide.ts`).
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
 * A registry row ({@linkcode KvPolicyEntry}) adds what the command line needs:
 * the summary, the per-policy defaults, the policy's own flags and what
 * `--parity` sets for it.
 *
 * @module
 */

import type { KvOptions, KvPolicyName, MergeRule } from "./option_types.ts";
import type { KvScoreSource } from "./score_source.ts";

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
  /** Where the prefill scores come from (a row of `KV_SCORE_SOURCES`). */
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

/** A KV-cache policy: budgets per layer plus what the GPU does, as data. */
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
   * The plan a sequence is charged before its prompt has run (`--kv-memory`):
   * the plan itself, or for a policy whose plan reads prefill statistics, a
   * plan of the same total that does not.
   *
   * @param shape model shape
   * @param stats prompt length and capacity (no statistics)
   * @returns one budget per layer
   */
  estimatePlan(shape: KvShape, stats: PlanStats): KvPlan;
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

/**
 * The values `--parity` sets where no flag gives them: the authors' shipped
 * configuration of the policy, each part still reachable through its flag.
 */
export interface KvParityDefaults {
  /** Common options. */
  readonly options: Partial<
    Pick<KvOptions, "kvMin" | "recentRatio" | "allocation" | "selectPer" | "compressAt">
  >;
  /** The policy's own flags, by key (raw values, validated as the flag's). */
  readonly params?: Readonly<Record<string, number | string>>;
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
  /** What `--parity` sets for this policy where no flag gives the value. */
  readonly parity: KvParityDefaults;
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
