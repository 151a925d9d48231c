/**
 * Host side of `kernels/attention_prefill.wgsl` and `kernels/attention_decode.wgsl`:
 * causal attention over a layer's KV cache with grouped-query heads, split over
 * slot chunks (partial softmax per chunk, then a combine).
 *
 * @module
 */

import core from "../../../kernels/_attention.wgsl" with { type: "text" };
import decodeSrc from "../../../kernels/attention_decode.wgsl" with { type: "text" };
import prefillSrc from "../../../kernels/attention_prefill.wgsl" with { type: "text" };
import { createStorage } from "../buffers.ts";
import type { Dispatch, GpuRuntime } from "../runtime.ts";
import { STEP_WGSL } from "../step.ts";
import {
  DEFAULT_KV_TYPES,
  kvElemSource,
  kvKernelLabel,
  type KvTypes,
  requireKvCache,
} from "./kv_elem.ts";
import {
  bindBuffers,
  createParams,
  type DispatchStep,
  dispatchSteps,
  opLabel,
  requireElements,
  requireGroupCount,
  requireHeadLayout,
} from "./op_support.ts";

/**
 * Slots per tile = workgroup size: 64 on a GPU; 8 (one SIMD group) on a CPU
 * fallback adapter, where each tile's four barriers cost a round over every
 * SIMD group of the workgroup.
 */
function tileSlots(rt: GpuRuntime): number {
  return rt.ctx.isFallback ? 8 : 64;
}
/** Loop iterations one invocation may spend on its chunk (lavapipe stops at 65,535). */
const ITERATION_BUDGET = 40000;

/** Scratch of the split-K passes, shareable by every layer of the same shape. */
export interface AttentionScratch {
  /** Partial outputs (tokens × nHead × nChunks × headDim). */
  readonly partAcc: GPUBuffer;
  /** Partial max and sum (tokens × nHead × nChunks × 2). */
  readonly partMl: GPUBuffer;
  /** Slots per chunk. */
  readonly chunk: number;
  /** Chunks covering the cache. */
  readonly nChunks: number;
  /** Token rows the scratch holds. */
  readonly tokens: number;
}

/** Head layout and cache size of an attention (the CPU twin in `src/reference/attention.ts` uses it too). */
export interface AttentionShape {
  /** Query heads. */
  nHead: number;
  /** Key/value heads; divides nHead (query head h reads KV head ⌊h / (nHead/nHeadKv)⌋). */
  nHeadKv: number;
  /** Values per head. */
  headDim: number;
  /** Slots per KV head in the cache. */
  nSlots: number;
}

/** Buffers shared by both attention ops. */
interface AttentionBuffers {
  /** Rotated queries (tokens × nHead × headDim). */
  readonly q: GPUBuffer;
  /** Key cache ([nHeadKv][nSlots][headDim], elements of `kvTypes.k`), rotated. */
  readonly kCache: GPUBuffer;
  /** Value cache ([nHeadKv][nSlots][headDim], elements of `kvTypes.v`). */
  readonly vCache: GPUBuffer;
  /** Element types of the key and the value cache (default f32 both); the arithmetic is f32 in every type. */
  readonly kvTypes?: KvTypes;
  /** Output (tokens × nHead × headDim). */
  readonly out: GPUBuffer;
  /** Head layout; headDim must be a multiple of 4. */
  readonly shape: AttentionShape;
  /** The step uniform. */
  readonly step: GPUBuffer;
  /** Scratch from {@linkcode createAttentionScratch} with the same shape and
   * variant, shared across layers; created per op when omitted. */
  readonly scratch?: AttentionScratch;
  /** GPU label suffix naming the call site, e.g. `"blk.3"`. */
  readonly label?: string;
}

/** Buffers and sizes of a prefill attention dispatch. */
export interface AttentionPrefillOptions extends AttentionBuffers {
  /** Receives each row's log-sum-exp (maxTokens × nHead). */
  readonly lse: GPUBuffer;
  /** Most tokens in one step; rows past `step.n_tokens` are skipped. */
  readonly maxTokens: number;
}

/** Buffers and sizes of a decode attention dispatch. */
export interface AttentionDecodeOptions extends AttentionBuffers {
  /** When given, each slot's attention summed over its query heads is added
   * here ([nHeadKv][nSlots]); the plain variant skips that pass. */
  readonly scores?: GPUBuffer;
  /**
   * Positions the cache no longer holds (a compressed cache: the prompt
   * length minus the tokens it kept); the slots attended are the first
   * `n_kv − kvOffset` (at most n_slots). Default 0.
   */
  readonly kvOffset?: number;
}

/**
 * Slots per partial workgroup: as many tiles as keep one invocation well under
 * lavapipe's loop limit, capped (decode: 512 slots on a GPU, for parallelism,
 * and 4096 on a CPU adapter, where a cache that fits one chunk skips the
 * combine dispatch; prefill: 2048 slots, to bound the scratch).
 */
function chunkSlots(rt: GpuRuntime, shape: AttentionShape, decode: boolean): number {
  const tile = tileSlots(rt);
  const group = shape.nHead / shape.nHeadKv;
  const perTile = group * (shape.headDim / 4 + 2) + tile / 2 +
    Math.ceil((group * shape.headDim) / tile) * (tile / 4 + 2) + 8;
  const maxSlots = decode ? (rt.ctx.isFallback ? 4096 : 512) : 2048;
  const tiles = Math.max(1, Math.min(maxSlots / tile, Math.floor(ITERATION_BUDGET / perTile)));
  return tiles * tile;
}

/**
 * Creates the split-K scratch for attention of `shape` over up to `tokens`
 * query rows (1 for decode). Share it between the layers of a model.
 *
 * @param rt GPU runtime
 * @param shape head layout
 * @param tokens query rows per step (prefill: maxTokens; decode: 1)
 * @returns the scratch buffers and their chunking
 * @example
 * ```ts ignore
 * const scratch = createAttentionScratch(rt, shape, 1);
 * ```
 */
export function createAttentionScratch(
  rt: GpuRuntime,
  shape: AttentionShape,
  tokens: number,
): AttentionScratch {
  const chunk = chunkSlots(rt, shape, tokens === 1);
  const nChunks = Math.ceil(shape.nSlots / chunk);
  const rows = tokens * shape.nHead * nChunks;
  return {
    partAcc: createStorage(rt.device, rows * shape.headDim * 4, "attention.part_acc"),
    partMl: createStorage(rt.device, rows * 2 * 4, "attention.part_ml"),
    chunk,
    nChunks,
    tokens,
  };
}

/**
 * Creates causal prefill attention: token `t` of the step (position
 * `step.pos + t`) attends to slots `0 .. step.pos + t`; writes the outputs and
 * the per-row log-sum-exp.
 *
 * @param rt GPU runtime
 * @param options buffers and sizes
 * @returns the recorded dispatches (partial, then combine when the cache spans more than one chunk)
 * @throws {RangeError} when the heads do not group, headDim is not a multiple
 *   of 4, a buffer is too small or the workgroup memory exceeds the device limit
 * @example
 * ```ts ignore
 * createAttentionPrefill(rt, { q, kCache, vCache, out, lse, shape, step, maxTokens: 512 });
 * ```
 */
export function createAttentionPrefill(
  rt: GpuRuntime,
  options: AttentionPrefillOptions,
): Dispatch {
  const { lse, maxTokens } = options;
  const { nHead, nHeadKv } = options.shape;
  const op = "attention_prefill";
  requireGroupCount(op, "tokens", maxTokens);
  requireElements(op, "lse", lse, maxTokens * nHead, `${maxTokens}×${nHead}`);
  const s = prepare(rt, op, prefillSrc, options, maxTokens);
  const buffers = [...s.inputs, lse, s.scratch.partAcc, s.scratch.partMl, options.step, s.params];
  return dispatchSteps([
    s.stage(s.partial, buffers, [nHeadKv, maxTokens, s.scratch.nChunks]),
    ...(s.direct ? [] : [s.stage("combine", buffers, [nHead, maxTokens])]),
  ], s.owned);
}

/**
 * Creates single-query decode attention over the `step.n_kv` valid slots,
 * optionally accumulating each slot's attention into `scores`.
 *
 * @param rt GPU runtime
 * @param options buffers and sizes
 * @returns the recorded dispatches (partial, combine when the cache spans more than one
 *   chunk, and add_scores when asked)
 * @throws {RangeError} when the heads do not group, headDim is not a multiple
 *   of 4, a buffer is too small or the workgroup memory exceeds the device limit
 * @example
 * ```ts ignore
 * createAttentionDecode(rt, { q, kCache, vCache, out, shape, step, scores });
 * ```
 */
export function createAttentionDecode(
  rt: GpuRuntime,
  options: AttentionDecodeOptions,
): Dispatch {
  const { scores } = options;
  const { nHead, nHeadKv, nSlots } = options.shape;
  const op = "attention_decode";
  if (scores) requireElements(op, "scores", scores, nHeadKv * nSlots, `${nHeadKv}×${nSlots}`);
  const s = prepare(rt, op, decodeSrc, options, 1, options.kvOffset ?? 0);
  const lse = createStorage(rt.device, nHead * 4, `${s.label}.lse`);
  const buffers = [...s.inputs, lse, s.scratch.partAcc, s.scratch.partMl, options.step, s.params];
  if (scores) buffers.push(scores);
  const nChunks = s.scratch.nChunks;
  return dispatchSteps([
    s.stage(s.partial, buffers, [nHeadKv, 1, nChunks]),
    ...(s.direct ? [] : [s.stage("combine", buffers, [nHead])]),
    ...(scores ? [s.stage("add_scores", buffers, [nHeadKv, 1, nChunks])] : []),
  ], [...s.owned, lse]);
}

/** The bindings each attention entry point's auto layout uses. */
const USED_BINDINGS: Readonly<Record<string, readonly number[]>> = {
  partial: [0, 1, 2, 5, 6, 7, 8],
  partial_direct: [0, 1, 2, 3, 4, 7, 8],
  combine: [3, 4, 5, 6, 7, 8],
  add_scores: [0, 1, 4, 7, 8, 9],
};

/** Validates the shared inputs and prepares pipelines, params and scratch. */
function prepare(
  rt: GpuRuntime,
  op: string,
  src: string,
  options: AttentionBuffers,
  tokens: number,
  kvOffset = 0,
) {
  const { shape } = options;
  const { nHead, nHeadKv, headDim, nSlots } = shape;
  requireHeadLayout(op, nHead, nHeadKv, headDim);
  const group = nHead / nHeadKv;
  const tile = tileSlots(rt);
  const wgBytes = 4 * (2 * group * headDim + group * tile + 3 * group);
  const limit = rt.device.limits.maxComputeWorkgroupStorageSize;
  if (wgBytes > limit) {
    throw new RangeError(
      `Cannot run ${op}: ${group} query heads per KV head × head size ${headDim} need ` +
        `${wgBytes} bytes of workgroup memory, the device allows ${limit}`,
    );
  }
  const kvTypes = options.kvTypes ?? DEFAULT_KV_TYPES;
  const rowShape = `${tokens}×${nHead}×${headDim}`;
  const cacheShape = `${nHeadKv}×${nSlots}×${headDim}`;
  const cacheElements = nHeadKv * nSlots * headDim;
  requireElements(op, "q", options.q, tokens * nHead * headDim, rowShape);
  requireElements(op, "out", options.out, tokens * nHead * headDim, rowShape);
  requireKvCache(op, "k_cache", options.kCache, kvTypes.k, cacheElements, cacheShape);
  requireKvCache(op, "v_cache", options.vCache, kvTypes.v, cacheElements, cacheShape);
  const scratch = options.scratch ?? createAttentionScratch(rt, shape, tokens);
  // A scratch made here belongs to the op; a shared one to its maker.
  const ownScratch = options.scratch ? [] : [scratch.partAcc, scratch.partMl];
  if (scratch.tokens < tokens || scratch.chunk !== chunkSlots(rt, shape, tokens === 1)) {
    throw new RangeError(
      `Cannot run ${op}: the scratch was made for ${scratch.tokens} rows of another shape`,
    );
  }
  requireElements(
    op,
    "part_acc",
    scratch.partAcc,
    tokens * nHead * scratch.nChunks * headDim,
    `${tokens}×${nHead}×${scratch.nChunks}×${headDim}`,
  );
  const label = opLabel(op, options.label);
  const kernel = kvKernelLabel(op, kvTypes);
  const code = kvElemSource(kvTypes) + STEP_WGSL + core + src;
  // One chunk: `partial_direct` normalises and writes the output itself, no combine.
  const direct = scratch.nChunks === 1;
  const constants = { WG: tile, G: group, HEAD_DIM: headDim, CHUNK: scratch.chunk };
  const params = createParams(rt.device, `${label}.params`, [
    ["u", nHead],
    ["u", nSlots],
    ["f", 1 / Math.sqrt(headDim)],
    ["u", scratch.nChunks],
    ["u", kvOffset],
  ]);
  return {
    label,
    params,
    /** The buffers the op created: its params, and its scratch unless shared. */
    owned: [params, ...ownScratch],
    scratch,
    direct,
    /** The partial pass's entry point: `partial_direct` when one chunk covers the cache. */
    partial: direct ? "partial_direct" : "partial",
    inputs: [options.q, options.kCache, options.vCache, options.out],
    /** One entry point's dispatch, binding the buffers its auto layout uses. */
    stage(
      entryPoint: string,
      buffers: readonly GPUBuffer[],
      grid: DispatchStep["grid"],
    ): DispatchStep {
      const pipeline = rt.pipelines.get({ label: kernel, code, entryPoint, constants });
      const bindGroup = bindBuffers(
        rt.device,
        pipeline,
        `${label}.${entryPoint}`,
        buffers,
        USED_BINDINGS[entryPoint] ?? [],
      );
      return { pipeline, bindGroup, grid };
    },
  };
}
