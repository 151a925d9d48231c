/**
 * The KV configurations a profile compares: every policy × budget of the
 * command line (the full cache once, as it has no budget), and with
 * `--ablate` d2o variants that switch off or change one part of the method
 * at a time (allocation, merging, the split, the sinks, values-only merging,
 * merge weights; the others stay reachable through their flags).
 *
 * @module
 */

import { kvCompresses } from "../kv/describe.ts";
import { type KvOptions, type KvOptionsInput, resolveKvOptions } from "../kv/options.ts";

/** One KV configuration: a row label and the session's options. */
export interface ProfileConfig {
  /** Row label, e.g. `d2o` or `d2o −merge`. */
  readonly label: string;
  /** Budget as written on the command line; `-` for the full cache. */
  readonly budget: string;
  /** The session's KV options. */
  readonly kv: KvOptions;
}

/**
 * The d2o ablations of `--ablate`: a label and the options that differ from
 * d2o's, given d2o's resolved options.
 */
export const D2O_ABLATIONS: readonly {
  readonly label: string;
  readonly input: (d2o: KvOptions) => KvOptionsInput;
}[] = [
  // Merging negligible: the target's own weight e^20 swamps the evicted token's.
  { label: "d2o −merge", input: () => ({ kv: "d2o", params: { mergeSelfLogit: 20 } }) },
  // d2o's sinks, window share and eviction with uniform budgets and no merging: h2o.
  {
    label: "d2o −alloc −merge",
    input: (d2o) => ({ kv: "h2o", sinks: d2o.sinks, recentRatio: d2o.recentRatio }),
  },
  // Candidates of the search for a D2O that beats H2O (docs/results/2026-12-01-d2o-variants.md).
  { label: "d2o values", input: () => ({ kv: "d2o", params: { mergeParts: "values" } }) },
  { label: "d2o 1:1", input: () => ({ kv: "d2o", recentRatio: 0.5 }) },
  {
    label: "d2o 1:1 values",
    input: () => ({ kv: "d2o", recentRatio: 0.5, params: { mergeParts: "values" } }),
  },
  {
    label: "d2o 1:1 values −sinks",
    input: () => ({ kv: "d2o", recentRatio: 0.5, sinks: 0, params: { mergeParts: "values" } }),
  },
  {
    label: "d2o 1:1 values self=2",
    input: () => ({
      kv: "d2o",
      recentRatio: 0.5,
      params: { mergeParts: "values", mergeSelfLogit: 2 },
    }),
  },
];

/**
 * Builds the configurations in command-line order: each policy with each
 * budget (the full cache once), then the ablations with each budget.
 *
 * @param policies policy names (`--kv`)
 * @param budgets budget values as written (`--kv-budget`)
 * @param common the other KV flags, applied to every configuration
 * @param options `ablate` to add the d2o ablations
 * @returns the configurations
 * @throws {UsageError} for a bad policy name, budget or KV flag
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { profileConfigs } from "./configs.ts";
 * const configs = profileConfigs(["full", "h2o"], ["0.1", "0.5"], {});
 * assert.deepEqual(configs.map((c) => `${c.label} ${c.budget}`), ["full -", "h2o 0.1", "h2o 0.5"]);
 * ```
 */
export function profileConfigs(
  policies: readonly string[],
  budgets: readonly string[],
  common: KvOptionsInput,
  options: { ablate?: boolean } = {},
): ProfileConfig[] {
  const configs: ProfileConfig[] = [];
  const add = (label: string, input: KvOptionsInput, budget: string | undefined) => {
    const params = { ...common.params, ...input.params };
    const kv = resolveKvOptions({ ...common, ...input, params, kvBudget: budget });
    configs.push({ label, budget: kvCompresses(kv) ? budget ?? "-" : "-", kv });
  };
  for (const policy of policies) {
    const kv = resolveKvOptions({ ...common, kv: policy });
    if (!kvCompresses(kv)) {
      add(kv.policy, { kv: kv.policy }, undefined);
      continue;
    }
    for (const budget of budgets) add(policy, { kv: policy }, budget);
  }
  if (options.ablate) {
    const d2o = resolveKvOptions({ ...common, kv: "d2o" });
    for (const ablation of D2O_ABLATIONS) {
      for (const budget of budgets) add(ablation.label, ablation.input(d2o), budget);
    }
  }
  return configs;
}
