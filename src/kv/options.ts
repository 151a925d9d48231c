/**
 * KV-cache policy options: the values behind `--kv`, `--kv-budget`, `--kv-min`,
 * `--recent-ratio`, `--sinks`, `--skip-layers`, `--kv-alloc`, `--select-per`,
 * `--compress-at` and `--parity`, the flags each policy declares for itself,
 * their per-policy defaults, and their validation. Every error is a
 * {@linkcode UsageError} naming the flag, the value and the valid range.
 *
 * Defaults (docs/method.md §9): `d2o` with a budget of 0.2 of the prompt,
 * floor 128 tokens, exact budgets, selection per KV head, compression at the
 * end of prefill. The per-policy defaults of `--sinks` and `--recent-ratio`
 * come from each policy's registry row, and so do the flags a policy
 * declares for itself (d2o's `--d2o-beta`, `--merge-rule`…, SnapKV's
 * `--snap-window`…): their values land in `KvOptions.params`. A given value
 * of any policy's flag is validated, whichever policy runs. `--parity` sets
 * the defaults of the flags not given to the authors' shipped configuration,
 * which each registry row declares (`KvPolicyEntry.parity`); each part keeps
 * its own flag.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import { integerFlag, numberFlag, oneOf, toNumber } from "./flag_values.ts";
import type { KvBudget, KvOptions, KvOptionsInput } from "./option_types.ts";
import type { KvParityDefaults, KvPolicyEntry } from "./policy.ts";
import { DEFAULT_KV_POLICY, KV_POLICIES, kvPolicyEntry, kvPolicyFlags } from "./registry.ts";

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
 * import assert from "node:assert/strict";
 * import { resolveKvOptions } from "./options.ts";
 * const o = resolveKvOptions({ kv: "h2o", kvBudget: "0.3" });
 * assert.deepEqual([o.sinks, o.recentRatio, o.kvMin], [0, 0.5, 128]);
 * assert.deepEqual(o.budget, { kind: "fraction", value: 0.3 });
 * assert.throws(() => resolveKvOptions({ recentRatio: 2 }), /--recent-ratio "2"/);
 * ```
 */
export function resolveKvOptions(input: KvOptionsInput = {}): KvOptions {
  const entry = parsePolicy(input.kv ?? DEFAULT_KV_POLICY);
  const parity = input.parity ?? false;
  const p: KvParityDefaults = parity ? entry.parity : { options: {} };
  const params = policyParams(entry, input.params ?? {}, p.params ?? {});
  return {
    policy: entry.name,
    budget: parseKvBudget(input.kvBudget ?? 0.2),
    kvMin: integerFlag("--kv-min", input.kvMin ?? p.options.kvMin ?? 128, 1),
    recentRatio: numberFlag(
      "--recent-ratio",
      input.recentRatio ?? p.options.recentRatio ?? entry.defaults.recentRatio,
      0,
      1,
    ),
    sinks: integerFlag("--sinks", input.sinks ?? entry.defaults.sinks, 0),
    skipLayers: input.skipLayers === undefined ? null : parseLayerList(input.skipLayers),
    allocation: oneOf("--kv-alloc", input.kvAlloc ?? p.options.allocation ?? "exact", [
      "exact",
      "code",
    ]),
    selectPer: oneOf("--select-per", input.selectPer ?? p.options.selectPer ?? "kv-head", [
      "kv-head",
      "query-head",
    ]),
    compressAt: oneOf("--compress-at", input.compressAt ?? p.options.compressAt ?? "prefill", [
      "prefill",
      "first-decode",
    ]),
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
 * import assert from "node:assert/strict";
 * import { parseKvBudget } from "./options.ts";
 * assert.deepEqual(parseKvBudget("512"), { kind: "tokens", value: 512 });
 * assert.deepEqual(parseKvBudget("0.2"), { kind: "fraction", value: 0.2 });
 * assert.deepEqual(parseKvBudget(1), { kind: "fraction", value: 1 }); // the whole prompt
 * assert.throws(() => parseKvBudget("1.5"), /--kv-budget "1.5"/);
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
 * import assert from "node:assert/strict";
 * import { parseLayerList } from "./options.ts";
 * assert.deepEqual(parseLayerList("4, 0,1,0"), [0, 1, 4]);
 * assert.deepEqual(parseLayerList(""), []);
 * assert.throws(() => parseLayerList("1,-2"), /--skip-layers "-2"/);
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

/**
 * The values of the flags the policy declares, defaults (or `--parity`'s)
 * filled in; undefined when it declares none. A given value of another
 * policy's flag is validated too, so a bad one never passes silently.
 */
function policyParams(
  entry: KvPolicyEntry,
  raw: Readonly<Record<string, string | number | undefined>>,
  parity: Readonly<Record<string, string | number>>,
): Record<string, number | string> | undefined {
  for (const flag of kvPolicyFlags()) if (raw[flag.key] !== undefined) flag.parse(raw[flag.key]!);
  if (entry.flags.length === 0) return undefined;
  const params: Record<string, number | string> = {};
  for (const flag of entry.flags) {
    params[flag.key] = flag.parse(raw[flag.key] ?? parity[flag.key] ?? flag.default);
  }
  return params;
}
