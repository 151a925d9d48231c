/**
 * CPU twin of the whole KV cache of a model: one {@linkcode ReferenceKvLayer}
 * per layer, sized by the policy's plan, reset per sequence.
 *
 * @module
 */

import type { KvPlan, KvPolicy } from "../../kv/policy.ts";
import { type KvLayerShape, ReferenceKvLayer } from "./kv_layer.ts";

/** Every layer's cache under one policy and plan. */
export class ReferenceKvCache {
  /** The plan the layers were sized by. */
  readonly plan: KvPlan;
  /** One cache per layer. */
  readonly layers: readonly ReferenceKvLayer[];

  /**
   * Creates the empty layers of a plan.
   *
   * @param policy the deciding policy
   * @param plan its plan for this sequence
   * @param shape head layout (shared by all layers)
   * @param nSlots per layer, slots per head (default: each layer's own default)
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ReferenceKvCache } from "./kv_cache.ts";
   * import { createKvPolicy } from "../../kv/registry.ts";
   * import { resolveKvOptions } from "../../kv/options.ts";
   * const policy = createKvPolicy(resolveKvOptions({ kv: "streaming", kvBudget: 8, kvMin: 1 }));
   * const shape = { nLayer: 2, nHead: 2, nHeadKv: 1, headDim: 4 };
   * const cache = new ReferenceKvCache(policy, policy.plan(shape, { promptLength: 20, capacity: 40 }), shape);
   * assert.deepEqual(cache.layers.map((l) => l.nSlots), [9, 9]); // 8 slots + 1 for each new token
   * assert.equal(cache.slotCount(), 18);
   * ```
   */
  constructor(policy: KvPolicy, plan: KvPlan, shape: KvLayerShape, nSlots?: readonly number[]) {
    this.plan = plan;
    this.layers = plan.layers.map((budget, l) =>
      new ReferenceKvLayer(policy, budget, shape, nSlots?.[l])
    );
  }

  /**
   * @returns slots allocated per KV head, summed over layers (`Σ n_slots_ℓ`): memory is this × KV heads × head_dim × 2 (K and V)
   */
  slotCount(): number {
    return this.layers.reduce((n, layer) => n + layer.nSlots, 0);
  }

  /** Empties every layer and unsets every threshold (a new sequence). */
  reset(): void {
    for (const layer of this.layers) layer.reset();
  }
}
