/**
 * The `full` policy: no compression. Every layer is planned uncompressed with
 * the whole capacity, so the shared decision path never evicts (no special
 * case for "no policy", cf. kvpress `nullcontext()`).
 *
 * @module
 */

import { fullLayer } from "./budget.ts";
import type { KvPlan, KvShape, PlanStats } from "./policy.ts";
import { ScoringPolicy } from "./scoring_policy.ts";

/** Keeps every token; the cache holds the whole capacity. */
export class FullPolicy extends ScoringPolicy {
  /** Policy name. */
  readonly name = "full" as const;

  /**
   * Plans every layer uncompressed at the capacity.
   *
   * @param shape model shape
   * @param stats prompt length and capacity
   * @returns the plan
   * @example
   * ```ts
   * import { FullPolicy } from "./full.ts";
   * import { resolveKvOptions } from "./options.ts";
   * const p = new FullPolicy(resolveKvOptions({ kv: "full" }));
   * const plan = p.plan({ nLayer: 2, nHead: 2, nHeadKv: 1, headDim: 8 }, { promptLength: 5, capacity: 64 });
   * console.log(plan.layers[0]); // { slots: 64, heavy: 0, recent: 64, sinks: 0, compressed: false }
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
