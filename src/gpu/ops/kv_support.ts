/**
 * Host pieces shared by the KV slot-table ops: the WGSL prelude, the data a
 * layer's kernels read ({@linkcode KvLayerSpec}, built by `src/kv/` from the
 * policy's spec and plan: the GPU never sees a policy name), the `Policy`
 * uniform (`kernels/_kv_state.wgsl`: that spec packed once per layer or per
 * request, in the struct's field order), and the slot count of a layer.
 *
 * @module
 */

import state from "../../../kernels/_kv_state.wgsl" with { type: "text" };
import { STEP_WGSL } from "../step.ts";

import { DEFAULT_KV_TYPES, type KvTypes } from "./kv_elem.ts";
import type { KvScoreKernel } from "./kv_score.ts";
import type { KvSlotTable } from "./kv_slot_table.ts";
import { createParams } from "./op_support.ts";

/** How evicted tokens merge into their nearest kept key. */
export interface KvMergeParams {
  /** `paper`: softmax weights with the target's own logit; `code`: the reference code's mean. */
  readonly rule: "paper" | "code";
  /** Logit of the target's own weight (paper rule). */
  readonly selfLogit: number;
  /** EMA weight of the new observation in τ. */
  readonly beta: number;
  /** A merge passes when the head mean of the similarities passes τ. */
  readonly parity: boolean;
  /** A merge rewrites the value only (default false: key and value). */
  readonly valuesOnly?: boolean;
}

/** What the slot-table kernels know of one layer: budget split, cache size, decode mode, merging. */
export interface KvLayerSpec {
  /** `C_ℓ`: tokens kept by the prefill compression and after each decode eviction. */
  readonly slots: number;
  /** Newest positions always kept. */
  readonly recent: number;
  /** First positions always kept. */
  readonly sinks: number;
  /** Whether the layer compresses a prompt longer than `slots` at all. */
  readonly compressed: boolean;
  /** Slots allocated per KV head (default {@linkcode slotsFor}). */
  readonly nSlots?: number;
  /** Whether a decode step evicts once the layer holds `slots + 1` (default: when compressed). */
  readonly evict?: boolean;
  /** Width of the max pool over positions of the prefill scores (odd; default 1 = none). */
  readonly pool?: number;
  /** Merging of evicted tokens, or null/absent to drop them. */
  readonly merge?: KvMergeParams | null;
  /** The score snippet that ranks the prompt (default: `ATTENTION_SCORE`, `kv_score.ts`). */
  readonly score?: KvScoreKernel;
}

/** A layer's cache, slot table and step uniform, as the slot-table ops bind them. */
export interface KvLayerBuffers {
  /** The layer's key cache `[nHeadKv][nSlots][headDim]` (elements of `kvTypes.k`), rotated. */
  readonly kCache: GPUBuffer;
  /** The layer's value cache `[nHeadKv][nSlots][headDim]` (elements of `kvTypes.v`). */
  readonly vCache: GPUBuffer;
  /** Element types of the key and the value cache (default f32 both); merges are computed in f32 in every type. */
  readonly kvTypes?: KvTypes;
  /** The layer's slot table (gives nHeadKv and nSlots). */
  readonly table: KvSlotTable;
  /** Values per head (a multiple of 4). */
  readonly headDim: number;
  /** The step uniform (its `pos` is the newest token's position). */
  readonly step: GPUBuffer;
  /** GPU label suffix naming the call site, e.g. `"blk.3"`. */
  readonly label?: string;
}

/** The WGSL prelude of the slot-table kernels: the Step struct and `_kv_state.wgsl`. */
export const KV_PRELUDE = STEP_WGSL + state;

/**
 * The element types of a layer's key and value caches.
 *
 * @param buffers the layer's buffers
 * @returns their `kvTypes`, or the default (f32 both)
 */
export function layerKvTypes(buffers: { readonly kvTypes?: KvTypes }): KvTypes {
  return buffers.kvTypes ?? DEFAULT_KV_TYPES;
}

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
 * Slots per KV head a layer's cache has: its `nSlots` when given, else
 * `C + 1` when compressed (one slot takes each new token before the
 * eviction), else `C`.
 *
 * @param budget the layer
 * @returns slot count
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { slotsFor } from "./kv_support.ts";
 * const layer = { slots: 8, recent: 2, sinks: 4, compressed: true };
 * assert.equal(slotsFor(layer), 9); // C + 1
 * assert.equal(slotsFor({ ...layer, compressed: false }), 8);
 * assert.equal(slotsFor({ ...layer, nSlots: 20 }), 20); // given: room to grow
 * ```
 */
export function slotsFor(budget: KvLayerSpec): number {
  return budget.nSlots ?? (budget.compressed ? budget.slots + 1 : budget.slots);
}

/**
 * Creates the `Policy` uniform of one layer. The decode kernels see
 * `compressed` only when the layer evicts while decoding.
 *
 * @param device owning device
 * @param label GPU label
 * @param layer the layer's spec
 * @param nHeadKv KV heads
 * @param compress compression-only fields, omitted for the decode kernels
 * @returns the uniform buffer
 */
export function createPolicyParams(
  device: GPUDevice,
  label: string,
  layer: KvLayerSpec,
  nHeadKv: number,
  compress?: KvCompressFields,
): GPUBuffer {
  const merge = layer.merge ?? null;
  const evicts = layer.compressed && (compress !== undefined || (layer.evict ?? true));
  return createParams(device, label, [
    ["u", nHeadKv],
    ["u", slotsFor(layer)],
    ["u", layer.slots],
    ["u", layer.recent],
    ["u", layer.sinks],
    ["u", evicts ? 1 : 0],
    ["u", merge ? (merge.valuesOnly ? 2 : 1) : 0],
    ["u", merge?.parity ? 1 : 0],
    ["u", merge?.rule === "code" ? 1 : 0],
    ["f", Math.fround(merge?.beta ?? 0)],
    // The old-value weight of updateTau, rounded to f32 as the twin rounds it.
    ["f", Math.fround(1 - (merge?.beta ?? 0))],
    ["f", Math.fround(Math.exp(merge?.selfLogit ?? 0))],
    ["u", compress?.tokens ?? 0],
    ["u", compress?.quota ?? 0],
    ["u", compress?.nEvict ?? 0],
    ["u", compress?.stride ?? 0],
  ]);
}
