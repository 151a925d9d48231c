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
import type { KvOptions } from "./option_types.ts";
import type { KvPlan, KvPolicyEntry, KvShape, PlanStats } from "./policy.ts";
import { baseSpec, PolicyBase } from "./policy_base.ts";

/** Attention sinks plus a sliding window. */
export class StreamingPolicy extends PolicyBase {
  /** Policy name. */
  readonly name = "streaming";
  /** No scores: the oldest token outside the sinks leaves the window; evicts per token. */
  readonly spec = baseSpec();

  /**
   * Plans a uniform budget per layer split into sinks + window.
   *
   * @param shape model shape
   * @param stats prompt length and capacity
   * @returns the plan
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { StreamingPolicy } from "./streaming.ts";
   * import { resolveKvOptions } from "./options.ts";
   * const p = new StreamingPolicy(resolveKvOptions({ kv: "streaming", kvBudget: 16, kvMin: 1 }));
   * const plan = p.plan({ nLayer: 1, nHead: 2, nHeadKv: 1, headDim: 8 }, { promptLength: 40, capacity: 64 });
   * // 16 slots: the 4 default sinks and a window of the 12 newest tokens
   * assert.deepEqual(plan.layers[0], { slots: 16, heavy: 4, recent: 12, sinks: 4, compressed: true });
   * ```
   */
  plan(shape: KvShape, stats: PlanStats): KvPlan {
    return uniformPlan(this.options, shape, stats, 1);
  }
}

/** The registry row of `streaming`. */
export const STREAMING: KvPolicyEntry = {
  name: "streaming",
  summary: "StreamingLLM: attention sinks plus a window of the newest tokens",
  defaults: { sinks: 4, recentRatio: 1 },
  flags: [],
  // Position-only: the sinks and the window stay; nothing to repeat.
  parity: { options: { kvMin: 1 } },
  create: (options: KvOptions) => new StreamingPolicy(options),
};
