/**
 * Host pieces shared by the KV slot-table ops: the WGSL prelude, the `Policy`
 * uniform (`kernels/_kv_state.wgsl`: a layer's budget and the policy options,
 * packed once per layer or per request, in the struct's field order), and
 * the slot count of a layer.
 *
 * @module
 */

import state from "../../../kernels/_kv_state.wgsl" with { type: "text" };
import { STEP_WGSL } from "../step.ts";

import type { KvOptions } from "../../kv/options.ts";
import type { LayerBudget } from "../../kv/policy.ts";
import type { KvSlotTable } from "./kv_slot_table.ts";
import { createParams } from "./op_support.ts";

/** A layer's cache, slot table and step uniform, as the slot-table ops bind them. */
export interface KvLayerBuffers {
  /** The layer's key cache `[nHeadKv][nSlots][headDim]`, rotated. */
  readonly kCache: GPUBuffer;
  /** The layer's value cache `[nHeadKv][nSlots][headDim]`. */
  readonly vCache: GPUBuffer;
  /** The layer's slot table (gives nHeadKv and nSlots). */
  readonly table: KvSlotTable;
  /** Values per head. */
  readonly headDim: number;
  /** The step uniform (its `pos` is the newest token's position). */
  readonly step: GPUBuffer;
  /** GPU label suffix naming the call site, e.g. `"blk.3"`. */
  readonly label?: string;
}

/** The WGSL prelude of the slot-table kernels: the Step struct and `_kv_state.wgsl`. */
export const KV_PRELUDE = STEP_WGSL + state;

/** Compression-only fields of the uniform (zero for the decode kernels). */
export interface KvCompressFields {
  /** `T'`: tokens in the staging cache. */
  readonly tokens: number;
  /** Heavy candidates kept per head (beyond sinks and window). */
  readonly quota: number;
  /** Tokens evicted per head. */
  readonly nEvict: number;
  /** Row stride of the column sums (elements). */
  readonly stride: number;
}

/**
 * Slots per KV head a layer's cache needs: `C + 1` when compressed, else `C`.
 *
 * @param budget the layer budget
 * @returns slot count
 * @example
 * ```ts
 * import { slotsFor } from "./kv_support.ts";
 * console.log(slotsFor({ slots: 8, heavy: 6, recent: 2, sinks: 4, compressed: true })); // 9
 * ```
 */
export function slotsFor(budget: LayerBudget): number {
  return budget.compressed ? budget.slots + 1 : budget.slots;
}

/**
 * Creates the `Policy` uniform of one layer.
 *
 * @param device owning device
 * @param label GPU label
 * @param options validated KV options (policy, β, merge rule, self-logit, parity)
 * @param budget the layer budget
 * @param nHeadKv KV heads
 * @param compress compression-only fields, omitted for the decode kernels
 * @returns the uniform buffer
 * @example
 * ```ts ignore
 * const policy = createPolicyParams(device, "kv_evict.policy", options, budget, 4);
 * ```
 */
export function createPolicyParams(
  device: GPUDevice,
  label: string,
  options: KvOptions,
  budget: LayerBudget,
  nHeadKv: number,
  compress?: KvCompressFields,
): GPUBuffer {
  const merge = options.policy === "d2o";
  return createParams(device, label, [
    ["u", nHeadKv],
    ["u", slotsFor(budget)],
    ["u", budget.slots],
    ["u", budget.recent],
    ["u", budget.sinks],
    ["u", budget.compressed ? 1 : 0],
    ["u", merge ? 1 : 0],
    ["u", options.parity ? 1 : 0],
    ["u", options.mergeRule === "code" ? 1 : 0],
    ["f", Math.fround(options.beta)],
    // The old-value weight of updateTau, rounded to f32 as the twin rounds it.
    ["f", Math.fround(1 - options.beta)],
    ["f", Math.fround(Math.exp(options.mergeSelfLogit))],
    ["u", compress?.tokens ?? 0],
    ["u", compress?.quota ?? 0],
    ["u", compress?.nEvict ?? 0],
    ["u", compress?.stride ?? 0],
  ]);
}
