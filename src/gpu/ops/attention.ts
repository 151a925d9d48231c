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
import broadcastSrc from "../../../kernels/attention_prefill_broadcast.wgsl" with {
  type: "text",
};
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
import { repeatLines } from "./matmul.ts";
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
/** Largest head size the broadcast prefill kernel holds (its MAX_D4 = 32 vectors of 4). */
const BROADCAST_MAX_HEAD_DIM = 128;
/**
 * Query rows each invocation of the broadcast prefill kernel owns (RB; a
 * workgroup serves 8·RB rows). On lavapipe 4 ran a 128-row chunk at 0.9× the
 * speed of 8 and compiled in a third of the time (13 s against 38 s the first
 * time; Mesa keeps compiled shaders on disk); 2 ran at 0.55×.
 */
const BROADCAST_ROW_BLOCKS = 4;
/** Fewest step rows for which a CPU adapter runs the broadcast prefill kernel by default. */
const BROADCAST_MIN_ROWS = 8 * BROADCAST_ROW_BLOCKS;

/**
 * Whether a prompt's attention over steps of up to `tokens` rows runs
 * `attention_prefill_broadcast.wgsl` by default: on a CPU fallback adapter,
 * for head sizes it holds and steps that fill its workgroups. On lavapipe it
 * is about 8× the tiled kernel at a depth of 512-2048 slots (one Qwen2.5-0.5B
 * layer, a 128-row chunk; docs/results/2026-12-06-long-prompt.md); a shorter
 * step keeps the tiled kernel, which compiles in a fraction of a second. On a
 * GPU its 8-invocation workgroups and lane-private rows would waste the device.
 */
function prefillBroadcasts(rt: GpuRuntime, shape: AttentionShape, tokens: number): boolean {
  return rt.ctx.isFallback && shape.headDim <= BROADCAST_MAX_HEAD_DIM &&
    tokens >= BROADCAST_MIN_ROWS;
}

/**
 * Slots per chunk of the broadcast kernel: as many blocks of 8 as keep one
 * invocation under the budget even if no loop over a row were unrolled (the
 * bound in the kernel's header, at the most row blocks).
 */
function broadcastChunkSlots(shape: AttentionShape): number {
  const d4 = shape.headDim / 4;
  const fixed = 3 * BROADCAST_ROW_BLOCKS * d4;
  return 8 * Math.max(1, Math.floor((ITERATION_BUDGET - fixed) / (10 * d4 + 1)));
}

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
  /**
   * Run `attention_prefill_broadcast.wgsl` (query rows in lane-private
   * registers, keys and values staged per block of 8; head size ≤ 128)
   * instead of the tiled `attention_prefill.wgsl`. Default: on a CPU fallback
   * adapter for steps of 32 rows or more, where it is several times faster;
   * the tiled kernel on a GPU.
   */
  readonly broadcast?: boolean;
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
 * combine dispatch; prefill: 2048 slots, to bound the scratch). On a CPU
 * adapter (or for the broadcast kernel anywhere) a prefill chunk also keeps
 * within the broadcast kernel's bound, so on a CPU adapter either prompt
 * kernel can use the same scratch.
 */
function chunkSlots(
  rt: GpuRuntime,
  shape: AttentionShape,
  decode: boolean,
  broadcast = false,
): number {
  const tile = tileSlots(rt);
  const group = shape.nHead / shape.nHeadKv;
  const perTile = group * (shape.headDim / 4 + 2) + tile / 2 +
    Math.ceil((group * shape.headDim) / tile) * (tile / 4 + 2) + 8;
  const maxSlots = decode ? (rt.ctx.isFallback ? 4096 : 512) : 2048;
  const tiles = Math.max(1, Math.min(maxSlots / tile, Math.floor(ITERATION_BUDGET / perTile)));
  const slots = tiles * tile;
  // Both bounds are multiples of 8, the fallback adapter's tile.
  return !decode && (rt.ctx.isFallback || broadcast)
    ? Math.min(slots, broadcastChunkSlots(shape))
    : slots;
}

/**
 * Creates the split-K scratch for attention of `shape` over up to `tokens`
 * query rows (1 for decode). Share it between the layers of a model.
 *
 * @param rt GPU runtime
 * @param shape head layout
 * @param tokens query rows per step (prefill: maxTokens; decode: 1)
 * @returns the scratch buffers and their chunking
 */
export function createAttentionScratch(
  rt: GpuRuntime,
  shape: AttentionShape,
  tokens: number,
): AttentionScratch {
  return scratchOf(rt, shape, tokens, chunkSlots(rt, shape, tokens === 1));
}

/** The split-K scratch of `tokens` rows over chunks of `chunk` slots. */
function scratchOf(
  rt: GpuRuntime,
  shape: AttentionShape,
  tokens: number,
  chunk: number,
): AttentionScratch {
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
 *   of 4 (or, for the broadcast kernel, above 128), a buffer is too small or
 *   the workgroup memory exceeds the device limit
 */
export function createAttentionPrefill(
  rt: GpuRuntime,
  options: AttentionPrefillOptions,
): Dispatch {
  const { lse, maxTokens } = options;
  const { nHead, nHeadKv, headDim } = options.shape;
  const op = "attention_prefill";
  requireGroupCount(op, "tokens", maxTokens);
  requireElements(op, "lse", lse, maxTokens * nHead, `${maxTokens}×${nHead}`);
  const broadcast = options.broadcast ?? prefillBroadcasts(rt, options.shape, maxTokens);
  const s = prepare(rt, op, prefillSrc, options, maxTokens, 0, broadcast);
  const buffers = [...s.inputs, lse, s.scratch.partAcc, s.scratch.partMl, options.step, s.params];
  const combine = s.direct ? [] : [s.stage("combine", buffers, [nHead, maxTokens])];
  if (!broadcast) {
    return dispatchSteps([
      s.stage(s.partial, buffers, [nHeadKv, maxTokens, s.scratch.nChunks]),
      ...combine,
    ], s.owned);
  }
  if (headDim > BROADCAST_MAX_HEAD_DIM || s.scratch.chunk > broadcastChunkSlots(options.shape)) {
    throw new RangeError(
      `Cannot run attention_prefill_broadcast: head size ${headDim} (at most ` +
        `${BROADCAST_MAX_HEAD_DIM}) or a scratch chunk of ${s.scratch.chunk} slots (a one-row scratch?)`,
    );
  }
  const rowBlocks = BROADCAST_ROW_BLOCKS;
  const types = options.kvTypes ?? DEFAULT_KV_TYPES;
  const entryPoint = s.direct ? "direct" : "partial";
  const pipeline = rt.pipelines.get({
    label: kvKernelLabel("attention_prefill_broadcast", types),
    code: kvElemSource(types) + STEP_WGSL +
      repeatLines(broadcastSrc, { rowBlocks, tokenBlocks: 1, broadcast: false }),
    entryPoint,
    constants: { G: nHead / nHeadKv, HEAD_DIM: headDim, CHUNK: s.scratch.chunk },
  });
  const bindGroup = bindBuffers(
    rt.device,
    pipeline,
    `${s.label}.${entryPoint}`,
    buffers,
    USED_BINDINGS[s.partial] ?? [],
  );
  const rowGroups = Math.ceil(maxTokens / (8 * rowBlocks));
  return dispatchSteps([
    { pipeline, bindGroup, grid: [nHead, rowGroups, s.direct ? 1 : s.scratch.nChunks] },
    ...combine,
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
  broadcast = false,
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
  const chunk = chunkSlots(rt, shape, tokens === 1, broadcast);
  const scratch = options.scratch ?? scratchOf(rt, shape, tokens, chunk);
  // A scratch made here belongs to the op; a shared one to its maker.
  const ownScratch = options.scratch ? [] : [scratch.partAcc, scratch.partMl];
  if (scratch.tokens < tokens || scratch.chunk !== chunk) {
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
