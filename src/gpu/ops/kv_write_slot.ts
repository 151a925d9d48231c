/**
 * Host side of `kernels/kv_write_slot.wgsl`: the decode step writes its token's
 * rotated key and value into each KV head's free slot and records its position
 * and its first score (the score snippet's `written_score`, `kv_score.ts`: 0
 * for the attention scores) in the slot table.
 *
 * @module
 */

import src from "../../../kernels/kv_write_slot.wgsl" with { type: "text" };
import type { Dispatch, GpuRuntime } from "../runtime.ts";
import { kvElemSource, kvKernelLabel, requireKvCache, requireKvHeadDim } from "./kv_elem.ts";
import { ATTENTION_SCORE, type KvScoreKernel, scoreSnippet } from "./kv_score.ts";
import { KV_PRELUDE, type KvLayerBuffers, layerKvTypes } from "./kv_support.ts";
import {
  bindBuffers,
  createParams,
  dispatchSteps,
  opLabel,
  requireElements,
} from "./op_support.ts";

/** Buffers and sizes of a slot write. */
export interface KvWriteSlotOptions extends KvLayerBuffers {
  /** This token's keys, rotated (nHeadKv × headDim; a prefix of a larger buffer is fine). */
  readonly k: GPUBuffer;
  /** This token's values (nHeadKv × headDim). */
  readonly v: GPUBuffer;
  /** The layer's score snippet: the written token's score (default {@linkcode ATTENTION_SCORE}: 0). */
  readonly score?: KvScoreKernel;
}

/**
 * Creates the dispatch writing one decode token into the free slot of each KV head.
 *
 * @param rt GPU runtime
 * @param options buffers and sizes
 * @returns the recorded dispatch
 * @throws {RangeError} when a buffer is too small or headDim is not a multiple of 4
 */
export function createKvWriteSlot(rt: GpuRuntime, options: KvWriteSlotOptions): Dispatch {
  const { k, v, kCache, vCache, table, headDim, step } = options;
  const { nHeadKv, nSlots } = table;
  const op = "kv_write_slot";
  const kvTypes = layerKvTypes(options);
  const label = opLabel(op, options.label);
  const rowShape = `${nHeadKv}×${headDim}`;
  const cacheShape = `${nHeadKv}×${nSlots}×${headDim}`;
  requireKvHeadDim(op, headDim);
  requireElements(op, "k", k, nHeadKv * headDim, rowShape);
  requireElements(op, "v", v, nHeadKv * headDim, rowShape);
  requireKvCache(op, "k_cache", kCache, kvTypes.k, nHeadKv * nSlots * headDim, cacheShape);
  requireKvCache(op, "v_cache", vCache, kvTypes.v, nHeadKv * nSlots * headDim, cacheShape);
  const pipeline = rt.pipelines.get({
    label: kvKernelLabel(op, kvTypes),
    code: kvElemSource(kvTypes) + KV_PRELUDE +
      scoreSnippet(options.score ?? ATTENTION_SCORE, "write") + src,
    constants: { HEAD_DIM: headDim },
  });
  const params = createParams(rt.device, `${label}.params`, [["u", nHeadKv], ["u", nSlots]]);
  const bindGroup = bindBuffers(rt.device, pipeline, label, [
    k,
    v,
    kCache,
    vCache,
    table.pos,
    table.score,
    table.state,
    step,
    params,
  ]);
  // One invocation per 4 elements (a KvVec).
  const groups = Math.ceil((nHeadKv * headDim) / 256);
  return dispatchSteps([{ pipeline, bindGroup, grid: [groups] }], [params]);
}
