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
 * import { layerSlots } from "./layer_spec.ts";
 * import { baseSpec } from "./policy_base.ts";
 * const budget = { slots: 40, heavy: 8, recent: 32, sinks: 0, compressed: true };
 * console.log(layerSlots(baseSpec({ decode: "grow" }), budget, 100, 164)); // 104
 * console.log(layerSlots(baseSpec(), budget, 100, 164)); // 41
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
 * import { gpuLayerSpec } from "./layer_spec.ts";
 * import { baseSpec } from "./policy_base.ts";
 * const budget = { slots: 4, heavy: 2, recent: 2, sinks: 1, compressed: true };
 * console.log(gpuLayerSpec(baseSpec(), budget, 5).evict); // true
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
