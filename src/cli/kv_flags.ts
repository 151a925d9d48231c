/**
 * The KV-cache flags shared by `generate`, `compress-inspect` and `profile`:
 * the common ones declared here, each policy's own from its registry row
 * (`src/kv/registry.ts`), all validated by `resolveKvOptions` (which names
 * the flag and the valid range in its errors).
 *
 * @module
 */

import type { Command } from "commander";
import type { KvOptionsInput } from "../kv/options.ts";
import { KV_POLICIES, kvPolicyFlags } from "../kv/registry.ts";

/** The raw values of the policy-tuning flags, as commander parses them. */
export interface KvTuningFlags {
  kvMin?: string;
  recentRatio?: string;
  sinks?: string;
  skipLayers?: string;
  kvAlloc?: string;
  selectPer?: string;
  compressAt?: string;
  parity?: boolean;
  /** The policy-declared flags, by key (see `kvPolicyFlags`). */
  [policyFlag: string]: unknown;
}

/**
 * The `--kv` help text: every registered policy.
 *
 * @param list whether the flag takes a comma-separated list
 * @returns e.g. `KV-cache policy: full, streaming, h2o, d2o, snapkv or pyramidkv`
 */
export function kvPolicyHelp(list = false): string {
  const names = KV_POLICIES.map((p) => p.name);
  const all = `${names.slice(0, -1).join(", ")} ${list ? "and" : "or"} ${names.at(-1)}`;
  return list ? `KV-cache policies, comma-separated: ${all}` : `KV-cache policy: ${all}`;
}

/**
 * Adds the policy-tuning flags (everything but `--kv` and `--kv-budget`,
 * whose form differs between commands) to a command: first the flags the
 * policies declare (d2o's, SnapKV's…), then the common ones.
 *
 * @param command the command to extend
 * @returns the same command
 */
export function addKvTuningFlags(command: Command): Command {
  for (const f of kvPolicyFlags()) command.option(f.flag, `${f.help} (default ${f.default})`);
  return command
    .option(
      "--kv-min <n>",
      "floor of a layer budget in tokens, so short prompts are not starved (default 128)",
    )
    .option("--recent-ratio <x>", "share of a budget that is the recent window (d2o 0.25, h2o 0.5)")
    .option("--sinks <n>", "attention-sink tokens always kept (d2o and streaming 4, h2o 0)")
    .option("--skip-layers <list>", "layers kept uncompressed, e.g. 0,1,4")
    .option(
      "--kv-alloc <mode>",
      "layer budgets: exact (default: the nominal budget exactly) or code (the authors' floors)",
    )
    .option(
      "--select-per <heads>",
      "select per kv-head (default) or per query-head (KV heads repeated before caching: " +
        "n_head/n_kv_head times the KV memory)",
    )
    .option(
      "--compress-at <when>",
      "compress the prompt at the end of prefill (default) or at the first-decode step (T+1 rows)",
    )
    .option(
      "--parity",
      "the authors' shipped configuration for d2o/h2o (d2o: skip layers 0, 1, L-1, recent ratio " +
        "0.5, beta 0.5, floor 1, code merge rule, allocation and head-mean decision, " +
        "query-head selection, first-decode compression); each part has its own flag",
    );
}

/**
 * The `resolveKvOptions` input for a policy, a budget and the tuning flags.
 *
 * @param kv `--kv` value
 * @param kvBudget `--kv-budget` value
 * @param flags the tuning flags
 */
export function kvInput(
  kv: string | undefined,
  kvBudget: string | number | undefined,
  flags: KvTuningFlags,
): KvOptionsInput {
  return {
    kv,
    kvBudget,
    kvMin: flags.kvMin,
    recentRatio: flags.recentRatio,
    sinks: flags.sinks,
    skipLayers: flags.skipLayers,
    kvAlloc: flags.kvAlloc,
    selectPer: flags.selectPer,
    compressAt: flags.compressAt,
    parity: flags.parity,
    params: Object.fromEntries(
      kvPolicyFlags().map((f) => [f.key, flags[f.key] as string | undefined]),
    ),
  };
}
