/**
 * Host side of `kernels/kv_column_sums.wgsl`: after a prefill chunk's
 * attention, adds each key's attention probabilities from the chunk's queries
 * into per-query-head column sums (the prefill scores of the policies that
 * score, and d2o's statistic); optionally only from the queries at or after a
 * position (an observation window).
 *
 * @module
 */

import broadcastSrc from "../../../kernels/kv_column_sums_broadcast.wgsl" with { type: "text" };
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
import { repeatLines } from "./matmul.ts";
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
/** Largest head size the broadcast kernel holds (its MAX_D4 = 32 vectors of 4). */
const BROADCAST_MAX_HEAD_DIM = 128;
/** Keys per invocation of the broadcast kernel (KB): 4 was as fast as 8 on lavapipe. */
const BROADCAST_KEY_BLOCKS = 4;

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
  /**
   * Run `kv_column_sums_broadcast.wgsl` (keys in lane-private registers,
   * query rows staged per block of 8; head size ≤ 128) instead of
   * `kv_column_sums.wgsl`. Default: on a CPU fallback adapter, where it is
   * about 3× faster; the plain kernel on a GPU.
   */
  readonly broadcast?: boolean;
}

/** One variant's pipeline, query rows per dispatch and keys per workgroup. */
interface ColumnSumsKernel {
  readonly pipeline: GPUComputePipeline;
  readonly qTile: number;
  readonly keysPerGroup: number;
}

/** The pipeline of the plain or the broadcast kernel, with its sub-chunk of queries. */
function columnSumsKernel(
  rt: GpuRuntime,
  types: KvTypes,
  options: ColumnSumsOptions,
  broadcast: boolean,
): ColumnSumsKernel {
  const { headDim, maxTokens } = options;
  const constants = (qTile: number) => ({
    HEAD_DIM: headDim,
    G: options.nHead / options.nHeadKv,
    Q_TILE: qTile,
  });
  const d4 = headDim / 4;
  if (!broadcast) {
    const qTile = Math.max(1, Math.min(maxTokens, Math.floor(ITERATION_BUDGET / (d4 + 2))));
    const pipeline = rt.pipelines.get({
      label: kvKernelLabel("kv_column_sums", types),
      code: kvElemSource(types) + STEP_WGSL + src,
      constants: constants(qTile),
    });
    return { pipeline, qTile, keysPerGroup: 64 };
  }
  if (headDim > BROADCAST_MAX_HEAD_DIM) {
    throw new RangeError(
      `Cannot run kv_column_sums_broadcast: head size ${headDim} is above ${BROADCAST_MAX_HEAD_DIM}`,
    );
  }
  // The kernel header's bound: 2·KB·d4, then per block of 8 rows 9·d4 + 10.
  const blocks = Math.floor((ITERATION_BUDGET - 2 * BROADCAST_KEY_BLOCKS * d4) / (9 * d4 + 10));
  const qTile = Math.max(1, Math.min(maxTokens, 8 * Math.max(1, blocks)));
  const tile = { rowBlocks: BROADCAST_KEY_BLOCKS, tokenBlocks: 1, broadcast: false };
  const pipeline = rt.pipelines.get({
    label: kvKernelLabel("kv_column_sums_broadcast", types),
    code: kvElemSource(types) + STEP_WGSL + repeatLines(broadcastSrc, tile),
    constants: constants(qTile),
  });
  return { pipeline, qTile, keysPerGroup: 8 * BROADCAST_KEY_BLOCKS };
}

/**
 * Creates the column-sum dispatches of one layer: one per sub-chunk of the
 * step's queries, recorded in order (deterministic, no atomics).
 *
 * @param rt GPU runtime
 * @param options buffers and sizes
 * @returns the recorded dispatches
 * @throws {RangeError} when the heads do not group, headDim is not a multiple
 *   of 4 (or, for the broadcast kernel, above 128), or a buffer is too small
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
  const broadcast = options.broadcast ?? (rt.ctx.isFallback && headDim <= BROADCAST_MAX_HEAD_DIM);
  const { pipeline, qTile, keysPerGroup } = columnSumsKernel(rt, types, options, broadcast);
  const groups = Math.ceil(nSlots / keysPerGroup);
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
