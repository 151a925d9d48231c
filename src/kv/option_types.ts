/**
 * The types of the KV-cache options: what `resolveKvOptions` (`options.ts`)
 * returns and takes. Kept apart from the resolver so that the policy files
 * can name them without importing the registry the resolver reads.
 *
 * @module
 */

/** One KV policy name, as `--kv` spells it (a row of the registry). */
export type KvPolicyName = string;

/** How an evicted token is folded into its target (d2o-method.md §5.3). */
export type MergeRule = "paper" | "code";

/**
 * Layer statistic for d2o budgets (d2o-method.md §9 Q1): `head-minmax` is the
 * reference code's (per-head variance, min-max over the layer's heads, mean);
 * `raw` is the mean raw variance, min-max normalised across layers.
 */
export type LayerStatisticMode = "head-minmax" | "raw";

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
  /** EMA weight of the new observation in the merge threshold, in [0, 1] (`--d2o-beta`). */
  readonly beta: number;
  /** Merge weights (`--merge-rule`). */
  readonly mergeRule: MergeRule;
  /** Logit of the target's own term in the paper weights; 1 gives weight `e` (`--merge-self-logit`). */
  readonly mergeSelfLogit: number;
  /** d2o layer statistic (`--d2o-stat`). */
  readonly layerStatistic: LayerStatisticMode;
  /** Layers kept full; `null` means the policy default (empty; {0, 1, L−1} for d2o in parity). */
  readonly skipLayers: readonly number[] | null;
  /** Reference-code choices (`--parity`): head-mean merge decision, no budget renormalisation. */
  readonly parity: boolean;
  /**
   * The values of the flags the policy itself declares (its registry row's
   * `flags`), by key; absent when the policy declares none.
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
  /** `--d2o-beta`. */
  readonly d2oBeta?: string | number | undefined;
  /** `--merge-rule`. */
  readonly mergeRule?: string | undefined;
  /** `--merge-self-logit`. */
  readonly mergeSelfLogit?: string | number | undefined;
  /** `--d2o-stat`. */
  readonly d2oStat?: string | undefined;
  /** `--skip-layers`, as "0,1,4" or a list. */
  readonly skipLayers?: string | readonly number[] | undefined;
  /** `--parity`. */
  readonly parity?: boolean | undefined;
  /** Raw values of policy-declared flags, by their key (e.g. `snapWindow`). */
  readonly params?: Readonly<Record<string, string | number | undefined>> | undefined;
}
