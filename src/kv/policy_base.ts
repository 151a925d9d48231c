/**
 * What every policy file starts from: a base class that holds the validated
 * options and charges a sequence its own plan, and the spec of a policy that
 * scores, evicts per token and drops what it evicts, which a policy changes
 * field by field.
 *
 * @module
 */

import type { KvOptions, KvPolicyName } from "./option_types.ts";
import type { KvGpuSpec, KvPlan, KvPolicy, KvShape, PlanStats } from "./policy.ts";

/** Base of the policies: the options, and the plan as its own estimate. */
export abstract class PolicyBase implements KvPolicy {
  /** Policy name. */
  abstract readonly name: KvPolicyName;
  /** Validated options. */
  readonly options: KvOptions;
  /** What the GPU does for this policy (policy specific). */
  abstract readonly spec: KvGpuSpec;

  /** @param options validated KV options */
  constructor(options: KvOptions) {
    this.options = options;
  }

  /** Plans the per-layer budgets (policy specific). */
  abstract plan(shape: KvShape, stats: PlanStats): KvPlan;

  /**
   * The plan a sequence is charged before its prompt runs: the plan itself
   * (a policy whose plan reads prefill statistics overrides this).
   *
   * @param shape model shape
   * @param stats prompt length and capacity
   * @returns the plan
   */
  estimatePlan(shape: KvShape, stats: PlanStats): KvPlan {
    return this.plan(shape, stats);
  }
}

/**
 * The spec of a policy that evicts per token without merging and without
 * scores; `changes` overrides its fields.
 *
 * @param changes the fields that differ (score source, window, decode mode…)
 * @returns the spec
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { baseSpec } from "./policy_base.ts";
 * assert.deepEqual(baseSpec({ score: "attention" }), {
 *   score: "attention",
 *   window: 0,
 *   pool: 1,
 *   headVariance: false,
 *   merge: null,
 *   decode: "evict",
 * });
 * ```
 */
export function baseSpec(changes: Partial<KvGpuSpec> = {}): KvGpuSpec {
  return {
    score: "none",
    window: 0,
    pool: 1,
    headVariance: false,
    merge: null,
    decode: "evict",
    ...changes,
  };
}
