/**
 * Host side of `kernels/kv_write.wgsl`: stores a step's rotated keys and its
 * values into a layer's KV cache.
 *
 * @module
 */

import src from "../../../kernels/kv_write.wgsl" with { type: "text" };
import type { Dispatch, GpuRuntime } from "../runtime.ts";
import { STEP_WGSL } from "../step.ts";
import {
  bindBuffers,
  createParams,
  dispatchSteps,
  opLabel,
  requireElements,
  requireGroupCount,
} from "./op_support.ts";

/** Buffers and sizes of a KV write. */
export interface KvWriteOptions {
  /** This step's keys, rotated (maxTokens × nHeadKv × headDim). */
  readonly k: GPUBuffer;
  /** This step's values (maxTokens × nHeadKv × headDim). */
  readonly v: GPUBuffer;
  /** The layer's key cache ([nHeadKv][nSlots][headDim]). */
  readonly kCache: GPUBuffer;
  /** The layer's value cache ([nHeadKv][nSlots][headDim]). */
  readonly vCache: GPUBuffer;
  /** KV heads. */
  readonly nHeadKv: number;
  /** Values per head. */
  readonly headDim: number;
  /** Slots per KV head. */
  readonly nSlots: number;
  /** Most tokens in one step; rows past `step.n_tokens` are skipped. */
  readonly maxTokens: number;
  /** The step uniform (pos, n_tokens). */
  readonly step: GPUBuffer;
  /** GPU label suffix naming the call site, e.g. `"blk.3"`. */
  readonly label?: string;
}

/**
 * Creates a dispatch copying `step.n_tokens` K/V rows into the cache at the
 * slots of positions `step.pos ..` (slot = position for the full cache).
 *
 * @param rt GPU runtime
 * @param options buffers and sizes
 * @returns the recorded dispatch
 * @throws {RangeError} when a buffer is too small
 * @example
 * ```ts ignore
 * createKvWrite(rt, { k, v, kCache, vCache, nHeadKv, headDim, nSlots, maxTokens: 1, step });
 * ```
 */
export function createKvWrite(rt: GpuRuntime, options: KvWriteOptions): Dispatch {
  const { k, v, kCache, vCache, nHeadKv, headDim, nSlots, maxTokens, step } = options;
  const label = opLabel("kv_write", options.label);
  const rowShape = `${maxTokens}×${nHeadKv}×${headDim}`;
  const cacheShape = `${nHeadKv}×${nSlots}×${headDim}`;
  requireElements("kv_write", "k", k, maxTokens * nHeadKv * headDim, rowShape);
  requireElements("kv_write", "v", v, maxTokens * nHeadKv * headDim, rowShape);
  requireElements("kv_write", "k_cache", kCache, nHeadKv * nSlots * headDim, cacheShape);
  requireElements("kv_write", "v_cache", vCache, nHeadKv * nSlots * headDim, cacheShape);
  requireGroupCount("kv_write", "tokens", maxTokens);
  const pipeline = rt.pipelines.get({ label: "kv_write", code: STEP_WGSL + src });
  const params = createParams(rt.device, `${label}.params`, [
    ["u", nHeadKv],
    ["u", headDim],
    ["u", nSlots],
  ]);
  const bindGroup = bindBuffers(rt.device, pipeline, label, [k, v, kCache, vCache, step, params]);
  const groups = Math.ceil((nHeadKv * headDim) / 64);
  return dispatchSteps([{ pipeline, bindGroup, grid: [groups, maxTokens] }], [params]);
}
