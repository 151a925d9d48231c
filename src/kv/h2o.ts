/**
 * The `h2o` policy (Heavy-Hitter Oracle): per layer a uniform budget of heavy
 * hitters ranked by accumulated attention plus a recent window (default split
 * 1:1, no sinks, as the reference code's H2O baseline); evicted tokens are
 * dropped.
 *
 * @module
 */

import { uniformPlan } from "./budget.ts";
import type { KvOptions } from "./option_types.ts";
import type { KvPlan, KvPolicyEntry, KvShape, PlanStats } from "./policy.ts";
import { baseSpec, PolicyBase } from "./policy_base.ts";

/** Accumulated-attention heavy hitters plus a recent window. */
export class H2oPolicy extends PolicyBase {
  /** Policy name. */
  readonly name = "h2o";
  /** Scores: every prompt query's attention, then each decode step's; evicts per token. */
  readonly spec = baseSpec({ score: "attention" });

  /**
   * Plans a uniform budget per layer split by the recent ratio.
   *
   * @param shape model shape
   * @param stats prompt length and capacity
   * @returns the plan
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { H2oPolicy } from "./h2o.ts";
   * import { resolveKvOptions } from "./options.ts";
   * const p = new H2oPolicy(resolveKvOptions({ kv: "h2o", kvBudget: 0.25, kvMin: 1 }));
   * const plan = p.plan({ nLayer: 1, nHead: 2, nHeadKv: 1, headDim: 8 }, { promptLength: 40, capacity: 64 });
   * // 0.25 · 40 = 10 slots, split 1:1, no sinks
   * assert.deepEqual(plan.layers[0], { slots: 10, heavy: 5, recent: 5, sinks: 0, compressed: true });
   * ```
   */
  plan(shape: KvShape, stats: PlanStats): KvPlan {
    return uniformPlan(this.options, shape, stats, this.options.recentRatio);
  }
}

/** The registry row of `h2o`. */
export const H2O: KvPolicyEntry = {
  name: "h2o",
  summary: "H2O: heavy hitters by accumulated attention plus a recent window",
  defaults: { sinks: 0, recentRatio: 0.5 },
  flags: [],
  // The reference code's H2O ("real_drop"): the code's floors, per query head, at prefill.
  parity: {
    options: { kvMin: 1, allocation: "code", selectPer: "query-head", compressAt: "prefill" },
  },
  describe: (o: KvOptions) => [`recent ratio ${o.recentRatio}`],
  create: (options: KvOptions) => new H2oPolicy(options),
};
