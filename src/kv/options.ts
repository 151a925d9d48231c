/**
 * KV-cache policy options: the values behind `--kv`, `--kv-budget`, `--kv-min`,
 * `--recent-ratio`, `--sinks`, `--d2o-beta`, `--merge-rule`,
 * `--merge-self-logit`, `--d2o-stat`, `--skip-layers` and `--parity`, their
 * per-policy defaults, and their validation. Every error is a
 * {@linkcode UsageError} naming the flag, the value and the valid range.
 *
 * Defaults (d2o-method.md §9): `d2o` with a budget of 0.2 of the prompt,
 * floor 128 tokens, heavy:recent 3:1 (recent ratio 0.25), 4 sinks, β = 0.7,
 * paper merge weights with self-logit 1 (weight `e`), per-head min-max layer
 * statistic. `h2o` defaults to no sinks and recent ratio 0.5; `streaming` to 4
 * sinks with the rest of the budget as the window (the recent ratio does not
 * apply). `--parity` switches the defaults that are not given explicitly to
 * the reference code's choices: the code merge rule, skip layers
 * {0, 1, L−1} for d2o, the head-mean merge decision and no budget
 * renormalisation.
 *
 * @module
 */

import { UsageError } from "../errors.ts";

/** Names of the KV policies, in the order help texts list them. */
export const KV_POLICY_NAMES = ["full", "streaming", "h2o", "d2o"] as const;

/** One KV policy name. */
export type KvPolicyName = typeof KV_POLICY_NAMES[number];

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
  /** EMA weight of the new observation in the d2o threshold, in [0, 1] (`--d2o-beta`). */
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
}

/**
 * Validates raw KV options and fills in the per-policy defaults.
 *
 * @param input raw values; absent fields take their defaults
 * @returns the validated options
 * @throws {UsageError} naming the flag and its valid range when a value is bad
 * @example Defaults of h2o
 * ```ts
 * import { resolveKvOptions } from "./options.ts";
 * const o = resolveKvOptions({ kv: "h2o", kvBudget: "0.3" });
 * console.log(o.sinks, o.recentRatio, o.budget.value); // 0 0.5 0.3
 * ```
 */
export function resolveKvOptions(input: KvOptionsInput = {}): KvOptions {
  const policy = parsePolicyName(input.kv ?? "d2o");
  const parity = input.parity ?? false;
  return {
    policy,
    budget: parseKvBudget(input.kvBudget ?? 0.2),
    kvMin: integerFlag("--kv-min", input.kvMin ?? 128, 1),
    recentRatio: numberFlag(
      "--recent-ratio",
      input.recentRatio ?? defaultRecentRatio(policy),
      0,
      1,
    ),
    sinks: integerFlag("--sinks", input.sinks ?? (policy === "h2o" ? 0 : 4), 0),
    beta: numberFlag("--d2o-beta", input.d2oBeta ?? 0.7, 0, 1),
    mergeRule: oneOf("--merge-rule", input.mergeRule ?? (parity ? "code" : "paper"), [
      "paper",
      "code",
    ]),
    mergeSelfLogit: numberFlag("--merge-self-logit", input.mergeSelfLogit ?? 1, -20, 20),
    layerStatistic: oneOf("--d2o-stat", input.d2oStat ?? "head-minmax", ["head-minmax", "raw"]),
    skipLayers: input.skipLayers === undefined ? null : parseLayerList(input.skipLayers),
    parity,
  };
}

/**
 * Parses a `--kv-budget` value: a fraction of the prompt (0 < x ≤ 1) or a
 * whole token count above 1.
 *
 * @param value the flag's text or number
 * @returns the budget
 * @throws {UsageError} when the value is neither
 * @example
 * ```ts
 * import { parseKvBudget } from "./options.ts";
 * console.log(parseKvBudget("512").kind, parseKvBudget("0.2").kind); // tokens fraction
 * ```
 */
export function parseKvBudget(value: string | number): KvBudget {
  const x = toNumber(value);
  if (x > 0 && x <= 1) return { kind: "fraction", value: x };
  if (Number.isSafeInteger(x) && x > 1) return { kind: "tokens", value: x };
  throw new UsageError(
    `Cannot use --kv-budget "${value}": expected a fraction 0 < x ≤ 1 or a whole token count above 1`,
  );
}

/**
 * Parses a `--skip-layers` list ("0,1,4"; empty for none) into sorted unique
 * layer indices. Whether they exist in the model is checked when planning.
 *
 * @param value comma-separated indices or a list
 * @returns sorted unique indices
 * @throws {UsageError} when an entry is not a non-negative integer
 * @example
 * ```ts
 * import { parseLayerList } from "./options.ts";
 * console.log(parseLayerList("4, 0,1,0")); // [ 0, 1, 4 ]
 * ```
 */
export function parseLayerList(value: string | readonly number[]): number[] {
  const items = typeof value === "string"
    ? value.split(",").map((s) => s.trim()).filter((s) => s !== "")
    : value;
  const layers = items.map((item) => integerFlag("--skip-layers", item, 0));
  return [...new Set(layers)].sort((a, b) => a - b);
}

function parsePolicyName(value: string): KvPolicyName {
  return oneOf("--kv", value, KV_POLICY_NAMES);
}

function defaultRecentRatio(policy: KvPolicyName): number {
  if (policy === "h2o") return 0.5;
  return policy === "d2o" ? 0.25 : 1;
}

function toNumber(value: string | number): number {
  if (typeof value === "number") return value;
  return value.trim() === "" ? NaN : Number(value);
}

function integerFlag(flag: string, value: string | number, min: number): number {
  const x = toNumber(value);
  if (!Number.isSafeInteger(x) || x < min) {
    throw new UsageError(`Cannot use ${flag} "${value}": expected a whole number ≥ ${min}`);
  }
  return x;
}

function numberFlag(flag: string, value: string | number, min: number, max: number): number {
  const x = toNumber(value);
  if (!Number.isFinite(x) || x < min || x > max) {
    throw new UsageError(`Cannot use ${flag} "${value}": expected a number from ${min} to ${max}`);
  }
  return x;
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  const found = allowed.find((a) => a === value);
  if (found === undefined) {
    throw new UsageError(`Cannot use ${flag} "${value}": expected one of ${allowed.join(", ")}`);
  }
  return found;
}
