/**
 * The `knorm` policy (kvpress's `KnormPress`, after Devoto et al., 2024, "A
 * Simple and Effective L2 Norm-Based Strategy for KV Cache Compression"): a
 * token's score is minus the L2 norm of its key (compared at bfloat16
 * precision, so that copies of one token tie on every path:
 * `kernels/_score_knorm.wgsl`), so the keys with the largest norms are
 * evicted first — at the prompt's compression and, while decoding, one per KV
 * head and step, each new token scored where it is written. No
 * attention is read: the prompt runs no column sums and decode attention adds
 * nothing (the `knorm` score source, `kernels/_score_knorm.wgsl`). Per layer a
 * uniform budget of the best-scored keys plus sinks and a recent window, as
 * the other scoring policies keep them; evicted tokens are dropped.
 *
 * @module
 */

import { uniformPlan } from "./budget.ts";
import type { KvOptions } from "./option_types.ts";
import type { KvPlan, KvPolicyEntry, KvShape, PlanStats } from "./policy.ts";
import { baseSpec, PolicyBase } from "./policy_base.ts";

/** The smallest-norm keys plus sinks and a recent window. */
export class KnormPolicy extends PolicyBase {
  /** Policy name. */
  readonly name = "knorm";
  /** Scores: minus each key's norm (prompt and decode), no attention; evicts per token. */
  readonly spec = baseSpec({ score: "knorm" });

  /**
   * Plans a uniform budget per layer split by the recent ratio.
   *
   * @param shape model shape
   * @param stats prompt length and capacity
   * @returns the plan
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { KnormPolicy } from "./knorm.ts";
   * import { resolveKvOptions } from "./options.ts";
   * const p = new KnormPolicy(resolveKvOptions({ kv: "knorm", kvBudget: 0.25, kvMin: 1 }));
   * const plan = p.plan({ nLayer: 1, nHead: 2, nHeadKv: 1, headDim: 8 }, { promptLength: 40, capacity: 64 });
   * assert.deepEqual(plan.layers[0], { slots: 10, heavy: 8, recent: 2, sinks: 4, compressed: true });
   * ```
   */
  plan(shape: KvShape, stats: PlanStats): KvPlan {
    return uniformPlan(this.options, shape, stats, this.options.recentRatio);
  }
}

/** The registry row of `knorm`. */
export const KNORM: KvPolicyEntry = {
  name: "knorm",
  summary: "KnormPress: evicts the keys with the largest L2 norm",
  // d2o's sinks and window share (kvpress keeps neither; a decode step needs a window).
  defaults: { sinks: 4, recentRatio: 0.25 },
  flags: [],
  // No authors' configuration to match: only the floor goes, as for every policy.
  parity: { options: { kvMin: 1 } },
  describe: (o: KvOptions) => [`recent ratio ${o.recentRatio}`],
  create: (options: KvOptions) => new KnormPolicy(options),
};
