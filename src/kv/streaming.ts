/**
 * The `streaming` policy (StreamingLLM): per layer the first `sinks`
 * positions plus a window of the newest `C − sinks` tokens. The heavy part is
 * the sinks alone, so at each decode step the only candidate is the token
 * leaving the window: the oldest non-sink is evicted. The recent ratio does
 * not apply.
 *
 * @module
 */

import { uniformPlan } from "./budget.ts";
import type { KvPlan, KvShape, PlanStats } from "./policy.ts";
import { ScoringPolicy } from "./scoring_policy.ts";

/** Attention sinks plus a sliding window. */
export class StreamingPolicy extends ScoringPolicy {
  /** Policy name. */
  readonly name = "streaming" as const;

  /**
   * Plans a uniform budget per layer split into sinks + window.
   *
   * @param shape model shape
   * @param stats prompt length and capacity
   * @returns the plan
   * @example
   * ```ts
   * import { StreamingPolicy } from "./streaming.ts";
   * import { resolveKvOptions } from "./options.ts";
   * const p = new StreamingPolicy(resolveKvOptions({ kv: "streaming", kvBudget: 16, kvMin: 1 }));
   * const plan = p.plan({ nLayer: 1, nHead: 2, nHeadKv: 1, headDim: 8 }, { promptLength: 40, capacity: 64 });
   * console.log(plan.layers[0]); // { slots: 16, heavy: 4, recent: 12, sinks: 4, compressed: true }
   * ```
   */
  plan(shape: KvShape, stats: PlanStats): KvPlan {
    return uniformPlan(this.options, shape, stats, 1);
  }
}
