/**
 * Host side of `kernels/kv_column_sums.wgsl`: after a prefill chunk's
 * attention, adds each key's attention probabilities from the chunk's queries
 * into per-query-head column sums (the prefill scores of the policies that
 * score, and d2o's statistic); optionally only from the queries at or after a
 * position (an observation window).
 *
 * @module
 */

import src from "../../../kernels/kv_column_sums.wgsl" with { type: "text" };
import type { Dispatch, GpuRuntime } from "../runtime.ts";
import { STEP_WGSL } from "../step.ts";
import {
  DEFAULT_KV_TYPES,
  kvElemSource,
  kvKernelLabel,
  type KvTypes,
  kvTypes,
  requireKvCache,
} from "./kv_elem.ts";
import {
  bindBuffers,
  createParams,
  dispatchSteps,
  MAX_GROUPS_PER_DIM,
  opLabel,
  requireElements,
  requireHeadLayout,
} from "./op_support.ts";

/** Loop iterations one invocation may spend per dispatch (lavapipe stops at 65,535). */
const ITERATION_BUDGET = 30000;

/** Buffers and sizes of the column sums. */
export interface ColumnSumsOptions {
  /** The chunk's rotated queries (maxTokens × nHead × headDim). */
  readonly q: GPUBuffer;
  /** The staging key cache `[nHeadKv][nSlots][headDim]` (slot = position), rotated. */
  readonly kCache: GPUBuffer;
  /** Element types of the cache (default f32); only the keys' (`k`) is read, the sums are f32 in every type. */
  readonly kvTypes?: KvTypes;
  /** The chunk's per-row log-sum-exp from attention_prefill (maxTokens × nHead). */
  readonly lse: GPUBuffer;
  /** Column sums `[nHead][nSlots]`, added to; zero it before the first chunk. */
  readonly out: GPUBuffer;
  /** Query heads. */
  readonly nHead: number;
  /** KV heads (divides nHead). */
  readonly nHeadKv: number;
  /** Values per head (a multiple of 4). */
  readonly headDim: number;
  /** Slots of the staging cache (positions it can hold); also the row stride of `out`. */
  readonly nSlots: number;
  /** Most tokens in one prefill chunk. */
  readonly maxTokens: number;
  /** The step uniform (pos = the chunk's first position, n_tokens = its length). */
  readonly step: GPUBuffer;
  /** Only queries at positions ≥ this count (an observation window); default 0: all. */
  readonly fromQuery?: number;
  /** GPU label suffix naming the call site, e.g. `"blk.3"`. */
  readonly label?: string;
}

/**
 * Creates the column-sum dispatches of one layer: one per sub-chunk of the
 * step's queries, recorded in order (deterministic, no atomics).
 *
 * @param rt GPU runtime
 * @param options buffers and sizes
 * @returns the recorded dispatches
 * @throws {RangeError} when the heads do not group, headDim is not a multiple
 *   of 4, or a buffer is too small
 * @example
 * ```ts ignore
 * createColumnSums(rt, { q, kCache, lse, out, nHead: 8, nHeadKv: 4, headDim: 64, nSlots: 2048, maxTokens: 512, step });
 * ```
 */
export function createColumnSums(rt: GpuRuntime, options: ColumnSumsOptions): Dispatch {
  const { q, kCache, lse, out, nHead, nHeadKv, headDim, nSlots, maxTokens, step } = options;
  const op = "kv_column_sums";
  const label = opLabel(op, options.label);
  requireHeadLayout(op, nHead, nHeadKv, headDim);
  if (maxTokens < 1 || nHead > MAX_GROUPS_PER_DIM) {
    throw new RangeError(`Cannot run ${op}: ${maxTokens} tokens and ${nHead} heads`);
  }
  requireElements(op, "q", q, maxTokens * nHead * headDim, `${maxTokens}×${nHead}×${headDim}`);
  // Only the keys are read: one pipeline per key type, whatever the values' type.
  const types = kvTypes((options.kvTypes ?? DEFAULT_KV_TYPES).k);
  const cacheShape = `${nHeadKv}×${nSlots}×${headDim}`;
  requireKvCache(op, "k_cache", kCache, types.k, nHeadKv * nSlots * headDim, cacheShape);
  requireElements(op, "lse", lse, maxTokens * nHead, `${maxTokens}×${nHead}`);
  requireElements(op, "out", out, nHead * nSlots, `${nHead}×${nSlots}`);
  const qTile = Math.max(1, Math.min(maxTokens, Math.floor(ITERATION_BUDGET / (headDim / 4 + 2))));
  const pipeline = rt.pipelines.get({
    label: kvKernelLabel(op, types),
    code: kvElemSource(types) + STEP_WGSL + src,
    constants: { HEAD_DIM: headDim, G: nHead / nHeadKv, Q_TILE: qTile },
  });
  const groups = Math.ceil(nSlots / 64);
  if (groups > MAX_GROUPS_PER_DIM) {
    throw new RangeError(`Cannot run ${op}: ${nSlots} slots exceed one dispatch row`);
  }
  const uniforms: GPUBuffer[] = [];
  const steps = Array.from({ length: Math.ceil(maxTokens / qTile) }, (_, i) => {
    const params = createParams(rt.device, `${label}.params.${i}`, [
      ["u", nHead],
      ["u", nSlots],
      ["f", 1 / Math.sqrt(headDim)],
      ["u", i * qTile],
      ["u", options.fromQuery ?? 0],
    ]);
    uniforms.push(params);
    const bindGroup = bindBuffers(rt.device, pipeline, `${label}.${i}`, [
      q,
      kCache,
      lse,
      out,
      step,
      params,
    ]);
    return { pipeline, bindGroup, grid: [groups, nHead] as const };
  });
  return dispatchSteps(steps, uniforms);
}
