/**
 * KV-cache policy options: the values behind `--kv`, `--kv-budget`, `--kv-min`,
 * `--recent-ratio`, `--sinks`, `--d2o-beta`, `--merge-rule`,
 * `--merge-self-logit`, `--d2o-stat`, `--skip-layers`, `--merge-decision`,
 * `--merge-parts`, `--kv-alloc`, `--select-per`, `--compress-at` and `--parity`, their
 * per-policy defaults, and their validation. Every error is a
 * {@linkcode UsageError} naming the flag, the value and the valid range.
 *
 * Defaults (docs/method.md §9): `d2o` with a budget of 0.2 of the prompt,
 * floor 128 tokens, heavy:recent 3:1 (recent ratio 0.25), 4 sinks, β = 0.7,
 * paper merge weights with self-logit 1 (weight `e`), per-head min-max layer
 * statistic, merge decision per token on keys and values, exact budgets,
 * selection per KV head, compression at the end of prefill. `h2o` defaults to
 * no sinks and recent ratio 0.5; `streaming` to 4 sinks with the rest of the
 * budget as the window (the recent ratio does not apply). `--parity` sets the
 * defaults of the flags not given to the authors' shipped configuration
 * ({@linkcode parityDefaults}); each part keeps its own flag. The
 * per-policy defaults of `--sinks` and `--recent-ratio` come from each
 * policy's registry row, and so do the flags a policy declares for itself
 * (`--snap-window`, `--snap-pool`, `--kv-decode`, `--pyramid-beta`): their
 * values land in `KvOptions.params`.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import { integerFlag, numberFlag, oneOf, toNumber } from "./flag_values.ts";
import type { KvBudget, KvOptions, KvOptionsInput } from "./option_types.ts";
import type { KvPolicyEntry } from "./policy.ts";
import { KV_POLICIES, kvPolicyEntry } from "./registry.ts";

export type {
  BudgetAllocation,
  CompressAt,
  KvBudget,
  KvOptions,
  KvOptionsInput,
  KvPolicyName,
  LayerStatisticMode,
  MergeDecision,
  MergeParts,
  MergeRule,
  SelectPer,
} from "./option_types.ts";

/** Names of the KV policies, in the order help texts list them (the registry's rows). */
export const KV_POLICY_NAMES: readonly string[] = KV_POLICIES.map((p) => p.name);

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
  const entry = parsePolicy(input.kv ?? "d2o");
  const policy = entry.name;
  const parity = input.parity ?? false;
  const p = parity ? parityDefaults(policy) : {};
  const params = policyParams(entry, input.params ?? {});
  return {
    policy,
    budget: parseKvBudget(input.kvBudget ?? 0.2),
    kvMin: integerFlag("--kv-min", input.kvMin ?? p.kvMin ?? 128, 1),
    recentRatio: numberFlag(
      "--recent-ratio",
      input.recentRatio ?? p.recentRatio ?? entry.defaults.recentRatio,
      0,
      1,
    ),
    sinks: integerFlag("--sinks", input.sinks ?? entry.defaults.sinks, 0),
    beta: numberFlag("--d2o-beta", input.d2oBeta ?? p.beta ?? 0.7, 0, 1),
    mergeRule: oneOf("--merge-rule", input.mergeRule ?? p.mergeRule ?? "paper", [
      "paper",
      "code",
    ]),
    mergeSelfLogit: numberFlag("--merge-self-logit", input.mergeSelfLogit ?? 1, -20, 20),
    layerStatistic: oneOf("--d2o-stat", input.d2oStat ?? "head-minmax", ["head-minmax", "raw"]),
    skipLayers: input.skipLayers === undefined ? null : parseLayerList(input.skipLayers),
    mergeDecision: oneOf(
      "--merge-decision",
      input.mergeDecision ?? p.mergeDecision ?? "token",
      ["token", "head-mean"],
    ),
    mergeParts: oneOf("--merge-parts", input.mergeParts ?? "kv", ["kv", "values"]),
    allocation: oneOf("--kv-alloc", input.kvAlloc ?? p.allocation ?? "exact", ["exact", "code"]),
    selectPer: oneOf("--select-per", input.selectPer ?? p.selectPer ?? "kv-head", [
      "kv-head",
      "query-head",
    ]),
    compressAt: oneOf("--compress-at", input.compressAt ?? p.compressAt ?? "prefill", [
      "prefill",
      "first-decode",
    ]),
    parity,
    ...(params ? { params } : {}),
  };
}

/** The option values `--parity` sets where no flag gives them. */
type ParityDefaults = Partial<
  Pick<
    KvOptions,
    | "kvMin"
    | "recentRatio"
    | "beta"
    | "mergeRule"
    | "mergeDecision"
    | "allocation"
    | "selectPer"
    | "compressAt"
  >
>;

/**
 * The authors' shipped configuration (AIoT-MLSys-Lab/D2O at 12c99d8; its
 * scripts' `hh_ratio = recent_ratio = 0.1`, α = β = 0.5; docs/method.md §3–§5):
 * no floor, the code's floors of `T'·ρ_ℓ·r`, and per policy: d2o — 1:1, β 0.5,
 * the code merge rule and head-mean decision, selection per repeated query
 * head, compression at the first decode step (and layers 0, 1, L−1 full,
 * `skipLayerSet`); h2o ("real_drop") — per query head, compressed at prefill;
 * streaming keeps its sinks and window (position-only, nothing to repeat).
 *
 * @param policy policy name
 * @returns the defaults `--parity` gives that policy
 * @example
 * ```ts
 * import { parityDefaults } from "./options.ts";
 * console.log(parityDefaults("d2o").compressAt, parityDefaults("h2o").compressAt); // first-decode prefill
 * ```
 */
export function parityDefaults(policy: string): ParityDefaults {
  const common = { kvMin: 1, allocation: "code" } as const; // the code's floors of T'·ρ·r
  if (policy === "d2o") {
    return {
      ...common,
      recentRatio: 0.5,
      beta: 0.5,
      mergeRule: "code",
      mergeDecision: "head-mean",
      selectPer: "query-head",
      compressAt: "first-decode",
    };
  }
  if (policy === "h2o") return { ...common, selectPer: "query-head", compressAt: "prefill" };
  return { kvMin: 1 };
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

function parsePolicy(value: string): KvPolicyEntry {
  const entry = kvPolicyEntry(value);
  if (entry) return entry;
  return kvPolicyEntry(oneOf("--kv", value, KV_POLICY_NAMES))!;
}

/** The values of the flags the policy declares, defaults filled in; undefined when it declares none. */
function policyParams(
  entry: KvPolicyEntry,
  raw: Readonly<Record<string, string | number | undefined>>,
): Record<string, number | string> | undefined {
  if (entry.flags.length === 0) return undefined;
  const params: Record<string, number | string> = {};
  for (const flag of entry.flags) params[flag.key] = flag.parse(raw[flag.key] ?? flag.default);
  return params;
}
