/**
 * The `full` policy: no compression. Every layer is planned uncompressed with
 * the whole capacity, so the shared decision path never evicts (no special
 * case for "no policy", cf. kvpress `nullcontext()`).
 *
 * @module
 */

import { fullLayer } from "./budget.ts";
import type { KvOptions } from "./option_types.ts";
import type { KvPlan, KvPolicyEntry, KvShape, PlanStats } from "./policy.ts";
import { baseSpec, PolicyBase } from "./policy_base.ts";

/** Keeps every token; the cache holds the whole capacity. */
export class FullPolicy extends PolicyBase {
  /** Policy name. */
  readonly name = "full";
  /** No scores, no compression. */
  readonly spec = baseSpec({ decode: "none" });

  /**
   * Plans every layer uncompressed at the capacity.
   *
   * @param shape model shape
   * @param stats prompt length and capacity
   * @returns the plan
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { FullPolicy } from "./full.ts";
   * import { resolveKvOptions } from "./options.ts";
   * const p = new FullPolicy(resolveKvOptions({ kv: "full" }));
   * const plan = p.plan({ nLayer: 2, nHead: 2, nHeadKv: 1, headDim: 8 }, { promptLength: 5, capacity: 64 });
   * const whole = { slots: 64, heavy: 0, recent: 64, sinks: 0, compressed: false };
   * assert.deepEqual(plan.layers, [whole, whole]); // every layer holds the capacity
   * assert.equal(plan.nominalSlots, 0); // no compressed layer
   * ```
   */
  plan(shape: KvShape, stats: PlanStats): KvPlan {
    return {
      layers: Array.from({ length: shape.nLayer }, () => fullLayer(stats.capacity)),
      statistic: null,
      share: null,
      nominalSlots: 0,
    };
  }
}

/** The registry row of `full`. */
export const FULL: KvPolicyEntry = {
  name: "full",
  summary: "no compression: every token stays",
  defaults: { sinks: 4, recentRatio: 1 },
  flags: [],
  parity: { options: { kvMin: 1 } },
  create: (options: KvOptions) => new FullPolicy(options),
};
