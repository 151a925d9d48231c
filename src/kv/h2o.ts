/**
 * The `h2o` policy (Heavy-Hitter Oracle): per layer a uniform budget of heavy
 * hitters ranked by accumulated attention plus a recent window (default split
 * 1:1, no sinks, as the reference code's H2O baseline); evicted tokens are
 * dropped.
 *
 * @module
 */

import { uniformPlan } from "./budget.ts";
import type { KvPlan, KvShape, PlanStats } from "./policy.ts";
import { ScoringPolicy } from "./scoring_policy.ts";

/** Accumulated-attention heavy hitters plus a recent window. */
export class H2oPolicy extends ScoringPolicy {
  /** Policy name. */
  readonly name = "h2o" as const;

  /**
   * Plans a uniform budget per layer split by the recent ratio.
   *
   * @param shape model shape
   * @param stats prompt length and capacity
   * @returns the plan
   * @example
   * ```ts
   * import { H2oPolicy } from "./h2o.ts";
   * import { resolveKvOptions } from "./options.ts";
   * const p = new H2oPolicy(resolveKvOptions({ kv: "h2o", kvBudget: 0.25, kvMin: 1 }));
   * const plan = p.plan({ nLayer: 1, nHead: 2, nHeadKv: 1, headDim: 8 }, { promptLength: 40, capacity: 64 });
   * console.log(plan.layers[0]); // { slots: 10, heavy: 5, recent: 5, sinks: 0, compressed: true }
   * ```
   */
  plan(shape: KvShape, stats: PlanStats): KvPlan {
    return uniformPlan(this.options, shape, stats, this.options.recentRatio);
  }
}
