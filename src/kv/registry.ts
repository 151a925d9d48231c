/**
 * The policy registry: one row per policy, in the order help texts list
 * them. Each row comes from its policy's file, which declares the policy's
 * name, summary, per-policy defaults, its own flags, what `--parity` sets for
 * it and its constructor; the policy's plan (and the plan it is charged
 * before a prompt runs) and its GPU work (`spec`) are the policy object's.
 * The CLI's `--kv` choices and flags, the help text and the README policy
 * table are made from these rows. Adding a policy means its file, a row here
 * and a row in the test matrix (tests/kv/policies_test.ts).
 *
 * @module
 */

import { D2O } from "./d2o.ts";
import { FULL } from "./full.ts";
import { H2O } from "./h2o.ts";
import { KNORM } from "./knorm.ts";
import type { KvOptions } from "./option_types.ts";
import type { KvFlag, KvPolicy, KvPolicyEntry } from "./policy.ts";
import { PYRAMIDKV } from "./pyramidkv.ts";
import { SNAPKV } from "./snapkv.ts";
import { STREAMING } from "./streaming.ts";

/** Every policy, in help-text order. */
export const KV_POLICIES: readonly KvPolicyEntry[] = [
  FULL,
  STREAMING,
  H2O,
  D2O,
  SNAPKV,
  PYRAMIDKV,
  KNORM,
];

/** The policy `generate` and `compress-inspect` use when `--kv` is not given. */
export const DEFAULT_KV_POLICY: string = D2O.name;

/**
 * The registry row of a policy name.
 *
 * @param name a policy name
 * @returns its row, or undefined when no policy has that name
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kvPolicyEntry } from "./registry.ts";
 * assert.deepEqual(kvPolicyEntry("h2o")?.defaults, { sinks: 0, recentRatio: 0.5 });
 * assert.equal(kvPolicyEntry("H2O"), undefined); // names are exact
 * ```
 */
export function kvPolicyEntry(name: string): KvPolicyEntry | undefined {
  return KV_POLICIES.find((p) => p.name === name);
}

/**
 * Every policy-declared flag once (policies may share a flag), in registry order.
 *
 * @returns the flags
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kvPolicyFlags } from "./registry.ts";
 * // snapkv and pyramidkv both declare --snap-window: it is listed once
 * assert.equal(kvPolicyFlags().filter((f) => f.flag === "--snap-window <n>").length, 1);
 * assert.equal(kvPolicyFlags()[0]!.flag, "--d2o-beta <x>"); // d2o's, the first row with flags
 * ```
 */
export function kvPolicyFlags(): KvFlag[] {
  const seen = new Map<string, KvFlag>();
  for (const p of KV_POLICIES) for (const f of p.flags) if (!seen.has(f.key)) seen.set(f.key, f);
  return [...seen.values()];
}

/**
 * Makes the policy the options name.
 *
 * @param options validated KV options
 * @returns the policy
 * @throws {RangeError} when no policy has the options' name
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createKvPolicy } from "./registry.ts";
 * import { resolveKvOptions } from "./options.ts";
 * const policy = createKvPolicy(resolveKvOptions({ kv: "h2o" }));
 * assert.equal(policy.name, "h2o");
 * assert.equal(policy.spec.score, "attention");
 * ```
 */
export function createKvPolicy(options: KvOptions): KvPolicy {
  const entry = kvPolicyEntry(options.policy);
  if (!entry) throw new RangeError(`Cannot make KV policy "${options.policy}": no such policy`);
  return entry.create(options);
}
