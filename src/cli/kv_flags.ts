/**
 * The KV-cache flags shared by `generate`, `compress-inspect` and `profile`:
 * the common ones declared here, each policy's own from its registry row
 * (`src/kv/registry.ts`), all validated by `resolveKvOptions` (which names
 * the flag and the valid range in its errors); and the cache's element types
 * (`-ctk/--cache-type-k`, `-ctv/--cache-type-v`, llama.cpp's flags), whose
 * default follows the adapter.
 *
 * @module
 */

import type { Command } from "commander";
import { UsageError } from "../errors.ts";
import { adapterLimits } from "../gpu/device.ts";
import {
  adapterKvType,
  describeKvTypes,
  KV_TYPES,
  kvElementBytes,
  type KvType,
  type KvTypes,
} from "../gpu/ops/kv_elem.ts";
import type { KvOptionsInput } from "../kv/options.ts";
import { KV_POLICIES, kvPolicyFlags } from "../kv/registry.ts";

/** The raw values of the policy-tuning and cache-type flags, as commander parses them. */
export interface KvTuningFlags extends KvTypeFlags {
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
 * policies declare (d2o's, SnapKV's…), then the common ones, then the cache
 * types ({@linkcode addKvTypeFlags}).
 *
 * @param command the command to extend
 * @returns the same command
 */
export function addKvTuningFlags(command: Command): Command {
  for (const f of kvPolicyFlags()) command.option(f.flag, `${f.help} (default ${f.default})`);
  command
    .option(
      "--kv-min <n>",
      "floor of a layer budget in tokens, so short prompts are not starved (default 128)",
    )
    .option(
      "--recent-ratio <x>",
      `share of a budget that is the recent window (${policyDefaults("recentRatio")})`,
    )
    .option("--sinks <n>", `attention-sink tokens always kept (${policyDefaults("sinks")})`)
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
  return addKvTypeFlags(command);
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

/** The raw values of the cache-type flags, as commander parses them. */
export interface KvTypeFlags {
  cacheTypeK?: string;
  cacheTypeV?: string;
}

/** llama.cpp's other cache types: d2o's kernels hold none of them. */
const LLAMA_ONLY_TYPES: ReadonlySet<string> = new Set([
  "bf16",
  "q8_0",
  "q4_0",
  "q4_1",
  "iq4_nl",
  "q5_0",
  "q5_1",
]);

/**
 * Adds `--cache-type-k` and `--cache-type-v` (llama.cpp's `-ctk`, `-ctv`:
 * `llama_flags.ts` rewrites those) to a command.
 *
 * @param command the command to extend
 * @returns the same command
 */
export function addKvTypeFlags(command: Command): Command {
  const rule = "default f16 where the adapter has shader-f16, else f32";
  return command
    .option("--cache-type-k <type>", `KV cache type of the keys: f32 or f16 (${rule}; -ctk)`)
    .option("--cache-type-v <type>", `KV cache type of the values: f32 or f16 (${rule}; -ctv)`);
}

/**
 * The cache types the flags ask for, checked before anything loads; a part
 * not asked for is left to {@linkcode chooseKvTypes}.
 *
 * @param flags the raw flag values
 * @returns the asked types
 * @throws {UsageError} for a type d2o's cache cannot hold (llama.cpp's quantized ones) or no type at all
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { askedKvTypes } from "./kv_flags.ts";
 * assert.deepEqual(askedKvTypes({ cacheTypeK: "F16" }), { k: "f16" });
 * assert.throws(() => askedKvTypes({ cacheTypeV: "q4_0" }), /--cache-type-v q4_0: d2o's KV cache holds f32 or f16/);
 * ```
 */
export function askedKvTypes(flags: KvTypeFlags): Partial<KvTypes> {
  const k = flags.cacheTypeK === undefined ? undefined : kvType("--cache-type-k", flags.cacheTypeK);
  const v = flags.cacheTypeV === undefined ? undefined : kvType("--cache-type-v", flags.cacheTypeV);
  return { ...(k ? { k } : {}), ...(v ? { v } : {}) };
}

function kvType(flag: string, value: string): KvType {
  const type = value.toLowerCase();
  if ((KV_TYPES as readonly string[]).includes(type)) return type as KvType;
  if (LLAMA_ONLY_TYPES.has(type)) {
    throw new UsageError(
      `Cannot use ${flag} ${value}: d2o's KV cache holds f32 or f16 (llama.cpp's ${type} cache ` +
        "is not supported); compress it with --kv and --kv-budget instead",
    );
  }
  throw new UsageError(`Cannot use ${flag} ${value}: expected f32 or f16`);
}

/** The cache types a run uses, and why (for `--verbose`). */
export interface KvTypeChoice {
  /** The keys' and the values' element types. */
  readonly types: KvTypes;
  /** Where they came from, e.g. `the default: the adapter has shader-f16`. */
  readonly why: string;
}

/**
 * The cache types of a run: what the flags ask for, else the default — f16
 * where the adapter has `shader-f16`, else f32. The f16 kernels need no
 * feature (halves packed two per u32 word), so f16 may be asked for on any
 * adapter.
 *
 * @param asked the types the flags ask for ({@linkcode askedKvTypes})
 * @param adapterHasF16 whether the adapter offers `shader-f16`
 * @returns the types and why
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chooseKvTypes } from "./kv_flags.ts";
 * assert.deepEqual(chooseKvTypes({}, true), {
 *   types: { k: "f16", v: "f16" },
 *   why: "the default: the adapter has shader-f16",
 * });
 * assert.deepEqual(chooseKvTypes({ k: "f16" }, false), {
 *   types: { k: "f16", v: "f32" },
 *   why: "K from --cache-type-k, V the default: the adapter has no shader-f16",
 * });
 * ```
 */
export function chooseKvTypes(asked: Partial<KvTypes>, adapterHasF16: boolean): KvTypeChoice {
  const fallback = adapterKvType(adapterHasF16);
  const types = { k: asked.k ?? fallback, v: asked.v ?? fallback };
  const rule = `the default: the adapter has ${adapterHasF16 ? "" : "no "}shader-f16`;
  const why = asked.k && asked.v
    ? "from --cache-type-k and --cache-type-v"
    : asked.k
    ? `K from --cache-type-k, V ${rule}`
    : asked.v
    ? `V from --cache-type-v, K ${rule}`
    : rule;
  return { types, why };
}

/**
 * `--verbose`'s line for the cache types (without the `d2o: ` prefix).
 *
 * @param choice the run's types and why
 * @returns e.g. `KV cache types: f16, 2 bytes per value (the default: the adapter has shader-f16)`
 */
export function kvTypesLine(choice: KvTypeChoice): string {
  const { k, v } = choice.types;
  const bytes = k === v ? `, ${kvElementBytes(k)} bytes per value` : "";
  return `KV cache types: ${describeKvTypes(choice.types)}${bytes} (${choice.why})`;
}

/**
 * {@linkcode chooseKvTypes} for the adapter a session would get, asked
 * without creating a device (for commands that check no other adapter fact).
 *
 * @param asked the types the flags ask for
 * @returns the types and why
 */
export async function adapterKvTypes(asked: Partial<KvTypes>): Promise<KvTypeChoice> {
  return chooseKvTypes(asked, (await adapterLimits())?.hasF16 ?? false);
}

/** Each policy's default of a common flag, from the registry: `d2o 0.25, h2o 0.5, …`. */
function policyDefaults(key: "sinks" | "recentRatio"): string {
  return KV_POLICIES.map((e) => `${e.name} ${e.defaults[key]}`).join(", ");
}
