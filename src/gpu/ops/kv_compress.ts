/**
 * Host side of `kernels/kv_compress.wgsl`: the bulk compression of one layer
 * at the end of prefill. Scores each position of the prompt's staging cache
 * (slot = position) with the layer's score snippet (`kv_score.ts`: the
 * attention one reads the per-query-head column sums, others the keys), and
 * applies the rule the layer's spec describes (keep sinks, window and the
 * top-scored candidates, the scores optionally max-pooled over positions;
 * with merging, fold the evicted keys and values into their nearest kept keys
 * and set τ); then writes the kept rows, the slot table and the state of the
 * layer's slot cache. The CPU twin of the same rule is
 * `src/reference/kv/kv_layer.ts` `prefill` (scores, then the decision).
 * Created once per request (sizes depend on the prompt length).
 *
 * @module
 */

import src from "../../../kernels/kv_compress.wgsl" with { type: "text" };
import { LimitError } from "../../errors.ts";
import { createStorage, readBuffer } from "../buffers.ts";
import type { Dispatch, GpuRuntime } from "../runtime.ts";
import {
  DEFAULT_KV_TYPES,
  kvElemSource,
  kvKernelLabel,
  type KvTypes,
  requireKvCache,
  requireKvHeadDim,
} from "./kv_elem.ts";
import { ATTENTION_SCORE, scoreSnippet } from "./kv_score.ts";
import type { KvSlotTable } from "./kv_slot_table.ts";
import { createPolicyParams, KV_PRELUDE, type KvLayerSpec, slotsFor } from "./kv_support.ts";
import {
  bindBuffers,
  createParams,
  type DispatchStep,
  dispatchSteps,
  MAX_GROUPS_PER_DIM,
  opLabel,
  requireElements,
} from "./op_support.ts";

/** Workgroup size of every entry point. */
const WG = 64;
/** Values (slots × head size) one layer's compression fills at most: its 1-D gather grid. */
export const KV_COMPRESS_MAX_SLOT_VALUES = MAX_GROUPS_PER_DIM * WG;
/** Loop iterations one invocation may spend (lavapipe stops at 65,535). */
const ITERATION_BUDGET = 40000;

/** Sizes of one compression, derived from the budget and the prompt length. */
export interface KvCompressPlan {
  /** Rows kept per KV head. */
  readonly kept: number;
  /** Rows evicted per KV head. */
  readonly evicted: number;
  /** Heavy candidates kept per head beyond the sinks and the window. */
  readonly quota: number;
}

/**
 * Computes how many rows a compression keeps and evicts per KV head, exactly
 * as `selectKept` does: everything when the layer is not compressed or the
 * prompt fits; else the sinks, the window and `C − protected` candidates.
 *
 * @param budget the layer budget
 * @param tokens prompt length `T'`
 * @returns kept, evicted and quota per head
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compressPlan } from "./kv_compress.ts";
 * const budget = { slots: 10, heavy: 8, recent: 2, sinks: 4, compressed: true };
 * // 4 sinks + 2 recent protected; 10 − 6 = 4 of the 24 candidates kept
 * assert.deepEqual(compressPlan(budget, 30), { kept: 10, evicted: 20, quota: 4 });
 * assert.deepEqual(compressPlan(budget, 8), { kept: 8, evicted: 0, quota: 2 }); // the prompt fits
 * ```
 */
export function compressPlan(
  budget: Pick<KvLayerSpec, "slots" | "recent" | "sinks" | "compressed">,
  tokens: number,
): KvCompressPlan {
  let protectedCount = 0;
  for (let p = 0; p < tokens; p++) {
    if (p < budget.sinks || p > tokens - 1 - budget.recent) protectedCount++;
  }
  const candidates = tokens - protectedCount;
  if (!budget.compressed || tokens <= budget.slots) {
    return { kept: tokens, evicted: 0, quota: candidates };
  }
  const quota = Math.max(0, Math.min(budget.slots - protectedCount, candidates));
  return { kept: protectedCount + quota, evicted: candidates - quota, quota };
}

/** The prompt's staging cache. */
export interface KvStaging {
  /** Keys `[nHeadKv][nSlots][headDim]` (elements of the op's `kvTypes.k`), rotated, slot = position. */
  readonly kCache: GPUBuffer;
  /** Values `[nHeadKv][nSlots][headDim]` (elements of the op's `kvTypes.v`). */
  readonly vCache: GPUBuffer;
  /** Slots per KV head (at least the prompt length). */
  readonly nSlots: number;
}

/** The layer's slot cache the compression fills. */
export interface KvDestination {
  /** Keys `[nHeadKv][table.nSlots][headDim]` (elements of the op's `kvTypes.k`). */
  readonly kCache: GPUBuffer;
  /** Values `[nHeadKv][table.nSlots][headDim]` (elements of the op's `kvTypes.v`). */
  readonly vCache: GPUBuffer;
  /** Its slot table (`nSlots = C + 1` compressed, `C` otherwise). */
  readonly table: KvSlotTable;
}

/** Inputs and layer spec of a compression. */
export interface KvCompressOptions {
  /** This layer's spec (budget split, slots, pool, merging). */
  readonly layer: KvLayerSpec;
  /** Prompt length `T'` (rows 0 .. T'−1 of the staging cache). */
  readonly tokens: number;
  /** The staging cache. */
  readonly staging: KvStaging;
  /** Column sums per query head `[nHead][colsumStride]` (kv_column_sums; read if the score does). */
  readonly colsum: GPUBuffer;
  /** Row stride of `colsum`; defaults to `staging.nSlots`. */
  readonly colsumStride?: number;
  /** Query heads (a multiple of the table's KV heads). */
  readonly nHead: number;
  /** The destination slot cache. */
  readonly dest: KvDestination;
  /**
   * Element types of the keys and of the values, in the staging and the
   * destination caches alike (default f32 both): norms, similarities and
   * merges are f32 from the stored values; a merged row is rounded where it
   * is stored.
   */
  readonly kvTypes?: KvTypes;
  /** Values per head (a multiple of 4). */
  readonly headDim: number;
  /** GPU label suffix naming the call site, e.g. `"blk.3"`. */
  readonly label?: string;
}

/** A compression: its dispatches, its sizes and its per-position outcome. */
export interface KvCompress extends Dispatch, KvCompressPlan {
  /**
   * Reads the outcome per (KV head, prompt position) `[nHeadKv][T']`: the
   * destination slot when kept, −1 when dropped, −2 − k when merged into
   * destination slot k (for compress-inspect and tests; never on the token path).
   */
  readFate(): Promise<Int32Array>;
  /**
   * Reads each evicted row's best cosine similarity to a kept row
   * `[nHeadKv][T']` (NaN for kept rows, and everywhere when the policy does
   * not merge), for compress-inspect.
   */
  readSimilarity(): Promise<Float32Array>;
  /** Frees the scratch buffers (after the dispatches ran). */
  destroy(): void;
}

/**
 * Creates the compression of one layer.
 *
 * @param rt GPU runtime
 * @param options inputs and layer spec
 * @returns the recorded dispatches and the compression's sizes
 * @throws {LimitError} when an uncompressed layer cannot hold the prompt, or the prompt or
 *   the context is too long for the kernels' per-invocation loop bounds or grids
 * @throws {RangeError} when shapes do not match, headDim is not a multiple of 4 or a buffer
 *   is too small
 */
export function createKvCompress(rt: GpuRuntime, options: KvCompressOptions): KvCompress {
  const { layer, tokens, staging, colsum, nHead, dest, headDim } = options;
  const { table } = dest;
  const { nHeadKv } = table;
  const label = opLabel(OP, options.label);
  const stride = options.colsumStride ?? staging.nSlots;
  const plan = checkCompress(options, stride);
  const sizes = compressSizes(layer, plan, tokens, nHeadKv, headDim, table.nSlots);
  const { merging, pooling, nChunks, kChunk } = sizes;
  const work = createStorage(rt.device, Math.max(1, sizes.words) * 4, `${label}.work`);
  const lay = createParams(rt.device, `${label}.layout`, [
    ["u", staging.nSlots],
    ["u", plan.kept],
    ["u", nChunks],
    ["u", table.nSlots],
    ...Object.values(sizes.offsets).map((offset) => ["u", offset] as const),
    ["u", merging ? 1 : 0],
    ["u", pooling ? ((layer.pool ?? 1) - 1) / 2 : 0],
    ["u", Math.max(0, tokens - layer.recent)],
    ["u", 0],
    ["u", 0],
  ]);
  const policy = createPolicyParams(rt.device, `${label}.policy`, layer, nHeadKv, {
    tokens,
    quota: plan.quota,
    nEvict: plan.evicted,
    stride,
  });
  const kvTypes = options.kvTypes ?? DEFAULT_KV_TYPES;
  const kernel = kvKernelLabel(OP, kvTypes);
  const score = layer.score ?? ATTENTION_SCORE;
  const code = kvElemSource(kvTypes) + KV_PRELUDE + scoreSnippet(score, "prompt") + src;
  const constants = { WG, HEAD_DIM: headDim, G: nHead / nHeadKv, K_CHUNK: kChunk };
  const buffers = [
    staging.kCache,
    staging.vCache,
    colsum,
    dest.kCache,
    dest.vCache,
    table.pos,
    table.score,
    table.state,
    work,
    lay,
    policy,
  ];
  const stage = (entryPoint: string, used: number[], grid: DispatchStep["grid"]) => {
    const pipeline = rt.pipelines.get({ label: kernel, code, entryPoint, constants });
    const bindGroup = bindBuffers(rt.device, pipeline, `${label}.${entryPoint}`, buffers, used);
    return { pipeline, bindGroup, grid };
  };
  const rows = Math.ceil(tokens / WG);
  const evRows = Math.ceil(plan.evicted / WG);
  const stages = [
    stage("prep", score.columnSums ? [0, 2, 8, 9, 10] : [0, 8, 9, 10], [rows, nHeadKv]),
    ...(pooling ? [stage("pool", [8, 9, 10], [rows, nHeadKv])] : []),
    stage("rank", [8, 9, 10], [rows, nHeadKv]),
    stage("scan", [8, 9, 10], [nHeadKv]),
    ...(merging
      ? [
        stage("nearest", [0, 8, 9, 10], [evRows, nHeadKv, nChunks]),
        stage("reduce", [8, 9, 10], [evRows, nHeadKv]),
        stage("tau", [7, 8, 9, 10], [1]),
        stage("link", [8, 9, 10], [nHeadKv]),
      ]
      : []),
    stage("gather", [0, 1, 3, 4, 5, 6, 7, 8, 9, 10], [sizes.gatherGroups, nHeadKv]),
  ];
  const read = (offset: number, words: number) =>
    readBuffer(rt.device, work, words * 4, offset * 4);
  return {
    ...plan,
    ...dispatchSteps(stages),
    async readFate() {
      return new Int32Array(await read(sizes.offsets.fate, nHeadKv * tokens));
    },
    async readSimilarity() {
      const out = new Float32Array(nHeadKv * tokens).fill(NaN);
      if (!merging) return out;
      const n = nHeadKv * plan.evicted;
      const ev = new Uint32Array(await read(sizes.offsets.ev, n));
      const sim = new Float32Array(await read(sizes.offsets.sim, n));
      for (let i = 0; i < n; i++) {
        out[Math.floor(i / plan.evicted) * tokens + ev[i]!] = sim[i]!;
      }
      return out;
    },
    destroy() {
      work.destroy();
      lay.destroy();
      policy.destroy();
    },
  };
}

/** The op name in errors and labels. */
const OP = "kv_compress";

/** Checks shapes, buffer sizes and the budget; returns the compression's sizes. */
function checkCompress(options: KvCompressOptions, stride: number): KvCompressPlan {
  const { layer, tokens, staging, colsum, nHead, dest, headDim } = options;
  const { table } = dest;
  const { nHeadKv } = table;
  const { k, v } = options.kvTypes ?? DEFAULT_KV_TYPES;
  requireKvHeadDim(OP, headDim);
  if (!Number.isSafeInteger(tokens) || tokens < 1 || tokens > staging.nSlots || tokens > stride) {
    throw new RangeError(
      `Cannot run ${OP}: ${tokens} tokens in a staging cache of ${staging.nSlots} slots`,
    );
  }
  if (nHead % nHeadKv !== 0) {
    throw new RangeError(`Cannot run ${OP}: ${nHead} query heads do not group over ${nHeadKv}`);
  }
  if (table.nSlots !== slotsFor(layer)) {
    throw new RangeError(
      `Cannot run ${OP}: the slot table has ${table.nSlots} slots, the budget needs ${
        slotsFor(layer)
      }`,
    );
  }
  const plan = compressPlan(layer, tokens);
  if (plan.kept > table.nSlots) {
    throw new LimitError(
      `Cannot cache a prompt of ${tokens} tokens: the cache holds ${layer.slots}`,
    );
  }
  const stagingShape = `${nHeadKv}×${staging.nSlots}×${headDim}`;
  const stagingElements = nHeadKv * staging.nSlots * headDim;
  const destShape = `${nHeadKv}×${table.nSlots}×${headDim}`;
  const destElements = nHeadKv * table.nSlots * headDim;
  requireKvCache(OP, "staging_k", staging.kCache, k, stagingElements, stagingShape);
  requireKvCache(OP, "staging_v", staging.vCache, v, stagingElements, stagingShape);
  requireElements(OP, "colsum", colsum, nHead * stride, `${nHead}×${stride}`);
  requireKvCache(OP, "dest_k", dest.kCache, k, destElements, destShape);
  requireKvCache(OP, "dest_v", dest.vCache, v, destElements, destShape);
  return plan;
}

/** The scratch layout (word offsets in Layout order), the stages' switches and the loop checks. */
function compressSizes(
  layer: KvLayerSpec,
  plan: KvCompressPlan,
  tokens: number,
  nHeadKv: number,
  headDim: number,
  destSlots: number,
) {
  const { kept, evicted } = plan;
  const merging = (layer.merge ?? null) !== null && evicted > 0;
  const pool = layer.pool ?? 1;
  // The pool smooths the candidates' scores: positions before the window.
  const pooling = pool > 1 && evicted > 0;
  const kChunk = Math.max(1, Math.floor(16384 / Math.ceil(headDim / 4)));
  const nChunks = Math.max(1, Math.ceil(kept / kChunk));
  const gatherGroups = Math.ceil((destSlots * headDim) / WG);
  const loops = [tokens / 4, evicted, (nHeadKv * evicted) / 4, pool];
  const grids = [Math.ceil(tokens / WG), Math.ceil(evicted / WG), nChunks, gatherGroups];
  if (gatherGroups > MAX_GROUPS_PER_DIM) {
    // A user's -c/--ctx for a layer kept whole: a limit (exit 6), in the user's words.
    throw new LimitError(
      `Cannot use a context of ${destSlots} tokens for a layer kept whole: the KV compression ` +
        `kernel fills at most ${Math.floor((MAX_GROUPS_PER_DIM * WG) / headDim)} slots per layer ` +
        `at head size ${headDim}; lower -c/--ctx`,
    );
  }
  if (loops.some((n) => n > ITERATION_BUDGET) || grids.some((n) => n > MAX_GROUPS_PER_DIM)) {
    throw new LimitError(
      `Cannot run ${OP}: a prompt of ${tokens} tokens evicting ${evicted} per head is too long`,
    );
  }
  // Scratch arrays in one buffer (words): T'-sized, then evicted-sized, then kept-sized.
  const lengths = {
    score: nHeadKv * tokens,
    raw: pooling ? nHeadKv * tokens : 0,
    norm: nHeadKv * tokens,
    keep: nHeadKv * tokens,
    fate: nHeadKv * tokens,
    kept: nHeadKv * kept,
    ev: nHeadKv * evicted,
    part: 2 * nHeadKv * evicted * nChunks,
    sim: nHeadKv * evicted,
    tgt: nHeadKv * evicted,
    next: nHeadKv * evicted,
    first: nHeadKv * kept,
    last: nHeadKv * kept,
    den: nHeadKv * kept,
    flag: nHeadKv * evicted,
  };
  const offsets = { ...lengths };
  let words = 0;
  for (const name of Object.keys(lengths) as (keyof typeof lengths)[]) {
    offsets[name] = words;
    words += lengths[name];
  }
  return { merging, pooling, kChunk, nChunks, gatherGroups, offsets, words };
}
