/**
 * From a policy's spec and one layer's budget to what the GPU kernels and the
 * CPU twin need to know of the layer: its slot count and its
 * {@linkcode KvLayerSpec} (data only, the score snippet included; the GPU side
 * never sees a policy).
 *
 * @module
 */

import type { KvLayerSpec } from "../gpu/ops/kv_support.ts";
import type { KvGpuSpec, LayerBudget } from "./policy.ts";
import { scoreKernel } from "./score_source.ts";

/**
 * Slots per KV head a layer's cache allocates for a sequence: the capacity
 * when the layer is never compressed; `C + 1` when it evicts per token (one
 * slot takes each new token before the eviction); when it compresses once,
 * what the prompt keeps plus room for every token still to come.
 *
 * @param spec the policy's spec
 * @param budget the layer's budget
 * @param promptLength `T'`
 * @param capacity most tokens the sequence holds (prompt + generation)
 * @returns slots per KV head
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layerSlots } from "./layer_spec.ts";
 * import { baseSpec } from "./policy_base.ts";
 * const budget = { slots: 40, heavy: 8, recent: 32, sinks: 0, compressed: true };
 * assert.equal(layerSlots(baseSpec({ decode: "grow" }), budget, 100, 164), 40 + 64); // the 64 to come
 * assert.equal(layerSlots(baseSpec(), budget, 100, 164), 41); // evicts: C + 1
 * assert.equal(layerSlots(baseSpec(), { ...budget, slots: 164, compressed: false }, 100, 164), 164);
 * ```
 */
export function layerSlots(
  spec: KvGpuSpec,
  budget: LayerBudget,
  promptLength: number,
  capacity: number,
): number {
  if (!budget.compressed) return budget.slots;
  if (spec.decode === "evict") return budget.slots + 1;
  return Math.min(budget.slots, promptLength) + (capacity - promptLength);
}

/**
 * The kernels' view of a layer.
 *
 * @param spec the policy's spec
 * @param budget the layer's budget
 * @param nSlots slots per KV head ({@linkcode layerSlots})
 * @returns the layer spec
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gpuLayerSpec } from "./layer_spec.ts";
 * import { baseSpec } from "./policy_base.ts";
 * const budget = { slots: 4, heavy: 2, recent: 2, sinks: 1, compressed: true };
 * const layer = gpuLayerSpec(baseSpec(), budget, 5);
 * assert.deepEqual(
 *   [layer.slots, layer.recent, layer.sinks, layer.nSlots, layer.evict, layer.pool, layer.merge],
 *   [4, 2, 1, 5, true, 1, null],
 * );
 * assert.equal(layer.score?.name, "none"); // baseSpec scores nothing
 * assert.equal(gpuLayerSpec(baseSpec({ decode: "grow" }), budget, 5).evict, false);
 * ```
 */
export function gpuLayerSpec(spec: KvGpuSpec, budget: LayerBudget, nSlots: number): KvLayerSpec {
  return {
    slots: budget.slots,
    recent: budget.recent,
    sinks: budget.sinks,
    compressed: budget.compressed,
    nSlots,
    evict: spec.decode === "evict",
    pool: spec.pool,
    merge: spec.merge,
    score: scoreKernel(spec.score),
  };
}
