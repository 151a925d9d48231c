/**
 * The policy registry: one row per policy (name, one-line summary,
 * constructor). Adding a policy means a file, a row here, a row in the test
 * matrix (tests/kv/policies_test.ts) and a README row.
 *
 * @module
 */

import { D2oPolicy } from "./d2o.ts";
import { FullPolicy } from "./full.ts";
import { H2oPolicy } from "./h2o.ts";
import type { KvOptions, KvPolicyName } from "./options.ts";
import type { KvPolicy } from "./policy.ts";
import { StreamingPolicy } from "./streaming.ts";

/** One registered policy. */
export interface KvPolicyEntry {
  /** One line for help texts and the README. */
  readonly summary: string;
  /** Makes the policy from validated options. */
  readonly create: (options: KvOptions) => KvPolicy;
}

/** Every policy by name. */
export const KV_POLICIES: Readonly<Record<KvPolicyName, KvPolicyEntry>> = {
  full: {
    summary: "no compression: every token stays",
    create: (options) => new FullPolicy(options),
  },
  streaming: {
    summary: "StreamingLLM: attention sinks plus a window of the newest tokens",
    create: (options) => new StreamingPolicy(options),
  },
  h2o: {
    summary: "H2O: heavy hitters by accumulated attention plus a recent window",
    create: (options) => new H2oPolicy(options),
  },
  d2o: {
    summary: "D2O: layer budgets by attention variance, eviction with similarity merging",
    create: (options) => new D2oPolicy(options),
  },
};

/**
 * Makes the policy the options name.
 *
 * @param options validated KV options
 * @returns the policy
 * @example
 * ```ts
 * import { createKvPolicy } from "./registry.ts";
 * import { resolveKvOptions } from "./options.ts";
 * console.log(createKvPolicy(resolveKvOptions({ kv: "h2o" })).name); // h2o
 * ```
 */
export function createKvPolicy(options: KvOptions): KvPolicy {
  return KV_POLICIES[options.policy].create(options);
}
