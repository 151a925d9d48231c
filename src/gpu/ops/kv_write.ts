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
  DEFAULT_KV_TYPES,
  kvElemSource,
  kvKernelLabel,
  type KvTypes,
  requireKvCache,
  requireKvHeadDim,
} from "./kv_elem.ts";
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
  /** The layer's key cache ([nHeadKv][nSlots][headDim], elements of `kvTypes.k`). */
  readonly kCache: GPUBuffer;
  /** The layer's value cache ([nHeadKv][nSlots][headDim], elements of `kvTypes.v`). */
  readonly vCache: GPUBuffer;
  /** Element types of the key and the value cache (default f32 both; f16 rounds each value to nearest even). */
  readonly kvTypes?: KvTypes;
  /** KV heads. */
  readonly nHeadKv: number;
  /** Values per head (a multiple of 4). */
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
 * @throws {RangeError} when a buffer is too small or headDim is not a multiple of 4
 */
export function createKvWrite(rt: GpuRuntime, options: KvWriteOptions): Dispatch {
  const { k, v, kCache, vCache, nHeadKv, headDim, nSlots, maxTokens, step } = options;
  const op = "kv_write";
  const kvTypes = options.kvTypes ?? DEFAULT_KV_TYPES;
  const label = opLabel(op, options.label);
  const rowShape = `${maxTokens}×${nHeadKv}×${headDim}`;
  const cacheShape = `${nHeadKv}×${nSlots}×${headDim}`;
  requireKvHeadDim(op, headDim);
  requireElements(op, "k", k, maxTokens * nHeadKv * headDim, rowShape);
  requireElements(op, "v", v, maxTokens * nHeadKv * headDim, rowShape);
  requireKvCache(op, "k_cache", kCache, kvTypes.k, nHeadKv * nSlots * headDim, cacheShape);
  requireKvCache(op, "v_cache", vCache, kvTypes.v, nHeadKv * nSlots * headDim, cacheShape);
  requireGroupCount(op, "tokens", maxTokens);
  const pipeline = rt.pipelines.get({
    label: kvKernelLabel(op, kvTypes),
    code: kvElemSource(kvTypes) + STEP_WGSL + src,
  });
  const params = createParams(rt.device, `${label}.params`, [
    ["u", nHeadKv],
    ["u", headDim],
    ["u", nSlots],
  ]);
  const bindGroup = bindBuffers(rt.device, pipeline, label, [k, v, kCache, vCache, step, params]);
  // One invocation per 4 elements (a KvVec).
  const groups = Math.ceil((nHeadKv * headDim) / 256);
  return dispatchSteps([{ pipeline, bindGroup, grid: [groups, maxTokens] }], [params]);
}
