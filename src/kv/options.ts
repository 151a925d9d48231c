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
import { integerFlag, numberFlag, oneOf, toNumber } from "./flag_values.ts";
import type { KvBudget, KvOptions, KvOptionsInput } from "./option_types.ts";
import type { KvPolicyEntry } from "./policy.ts";
import { KV_POLICIES, kvPolicyEntry } from "./registry.ts";

export type {
  KvBudget,
  KvOptions,
  KvOptionsInput,
  KvPolicyName,
  LayerStatisticMode,
  MergeRule,
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
  const params = policyParams(entry, input.params ?? {});
  return {
    policy,
    budget: parseKvBudget(input.kvBudget ?? 0.2),
    kvMin: integerFlag("--kv-min", input.kvMin ?? 128, 1),
    recentRatio: numberFlag(
      "--recent-ratio",
      input.recentRatio ?? entry.defaults.recentRatio,
      0,
      1,
    ),
    sinks: integerFlag("--sinks", input.sinks ?? entry.defaults.sinks, 0),
    beta: numberFlag("--d2o-beta", input.d2oBeta ?? 0.7, 0, 1),
    mergeRule: oneOf("--merge-rule", input.mergeRule ?? (parity ? "code" : "paper"), [
      "paper",
      "code",
    ]),
    mergeSelfLogit: numberFlag("--merge-self-logit", input.mergeSelfLogit ?? 1, -20, 20),
    layerStatistic: oneOf("--d2o-stat", input.d2oStat ?? "head-minmax", ["head-minmax", "raw"]),
    skipLayers: input.skipLayers === undefined ? null : parseLayerList(input.skipLayers),
    parity,
    ...(params ? { params } : {}),
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
