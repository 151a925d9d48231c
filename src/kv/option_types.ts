/**
 * The types of the KV-cache options: what `resolveKvOptions` (`options.ts`)
 * returns and takes. Kept apart from the resolver so that the policy files
 * can name them without importing the registry the resolver reads.
 *
 * @module
 */

/** One KV policy name, as `--kv` spells it (a row of the registry). */
export type KvPolicyName = string;

/** How an evicted token is folded into its target (docs/method.md §5.3). */
export type MergeRule = "paper" | "code";

/**
 * Layer statistic for d2o budgets (docs/method.md §9 Q1): `head-minmax` is the
 * reference code's (per-head variance, min-max over the layer's heads, mean);
 * `raw` is the mean raw variance, min-max normalised across layers.
 */
export type LayerStatisticMode = "head-minmax" | "raw";

/**
 * Who decides a merge (docs/method.md §9 Q7): `token` per (KV head, evicted
 * token) against τ; `head-mean` the reference code's, the j-th evicted token of
 * every head merges when the head mean of their similarities passes τ.
 */
export type MergeDecision = "token" | "head-mean";

/**
 * How layer budgets are sized (§9 Q2): `exact` water-fills so the compressed
 * layers hold exactly the nominal budget; `code` is the reference code's
 * `N = ⌊T'·ρ_ℓ·(1−r)⌋`, `M = ⌊T'·ρ_ℓ·r⌋` with `ρ_ℓ` clamped to [0.01, 1], no
 * renormalisation.
 */
export type BudgetAllocation = "exact" | "code";

/**
 * What a selection ranks (§9 Q9): `kv-head` caches the model's KV heads and
 * sums the scores over each query group; `query-head` repeats the KV heads
 * before caching (the reference code's `repeat_kv`), so every query head
 * selects its own tokens and the cache holds `n_head` heads.
 */
export type SelectPer = "kv-head" | "query-head";

/**
 * When the prompt is compressed (§9 Q3): at the end of `prefill`, or at the
 * `first-decode` step, after that step's attention over all `T + 1` rows
 * (its query row joins the scores; the budgets use `T' = T + 1`).
 */
export type CompressAt = "prefill" | "first-decode";

/** What a merge rewrites: keys and values (`kv`, the paper), or the values only (`values`). */
export type MergeParts = "kv" | "values";

/** A KV budget: a fraction of the prompt length `T'`, or a token count per layer. */
export type KvBudget =
  | { readonly kind: "fraction"; readonly value: number }
  | { readonly kind: "tokens"; readonly value: number };

/** Validated KV options with every default filled in. */
export interface KvOptions {
  /** Policy name (`--kv`). */
  readonly policy: KvPolicyName;
  /** Budget per layer (`--kv-budget`). */
  readonly budget: KvBudget;
  /** Floor in tokens: a layer budget never goes below `min(kvMin, T')` (`--kv-min`). */
  readonly kvMin: number;
  /** Share of a layer budget that is the recent window, in [0, 1] (`--recent-ratio`). */
  readonly recentRatio: number;
  /** Attention-sink positions always kept, counted in the heavy part (`--sinks`). */
  readonly sinks: number;
  /** Layers kept full; `null` means the policy default (none; {0, 1, L−1} for d2o in parity). */
  readonly skipLayers: readonly number[] | null;
  /** How layer budgets are sized (`--kv-alloc`). */
  readonly allocation: BudgetAllocation;
  /** Selection per KV head or per (repeated) query head (`--select-per`). */
  readonly selectPer: SelectPer;
  /** When the prompt is compressed (`--compress-at`). */
  readonly compressAt: CompressAt;
  /** Whether `--parity` chose the defaults of the flags not given (the authors' shipped configuration). */
  readonly parity: boolean;
  /**
   * The values of the flags the policy itself declares (its registry row's
   * `flags`), by key, e.g. d2o's `mergeRule`; absent when the policy declares none.
   */
  readonly params?: Readonly<Record<string, number | string>>;
}

/** Raw option values as a command line gives them (strings) or a caller sets them. */
export interface KvOptionsInput {
  /** `--kv`. */
  readonly kv?: string | undefined;
  /** `--kv-budget`. */
  readonly kvBudget?: string | number | undefined;
  /** `--kv-min`. */
  readonly kvMin?: string | number | undefined;
  /** `--recent-ratio`. */
  readonly recentRatio?: string | number | undefined;
  /** `--sinks`. */
  readonly sinks?: string | number | undefined;
  /** `--skip-layers`, as "0,1,4" or a list. */
  readonly skipLayers?: string | readonly number[] | undefined;
  /** `--kv-alloc`. */
  readonly kvAlloc?: string | undefined;
  /** `--select-per`. */
  readonly selectPer?: string | undefined;
  /** `--compress-at`. */
  readonly compressAt?: string | undefined;
  /** `--parity`. */
  readonly parity?: boolean | undefined;
  /** Raw values of policy-declared flags, by their key (e.g. `snapWindow`, `mergeRule`). */
  readonly params?: Readonly<Record<string, string | number | undefined>> | undefined;
}
