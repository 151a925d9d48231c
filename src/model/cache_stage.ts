/**
 * A sequence's cache stage: the part of each layer that reads the sequence's
 * own state — RoPE of its rows, the KV write, attention over its cache and
 * the cache's after-attention ops (prompt scores, or the eviction) — the
 * GPU counterpart of the CPU twin's `AttendStep` (`src/reference/forward.ts`).
 * The forward pass records the shared ops around it (`forward.ts`).
 *
 * @module
 */

import {
  type AttentionScratch,
  createAttentionDecode,
  createAttentionPrefill,
} from "../gpu/ops/attention.ts";
import { createKvWrite } from "../gpu/ops/kv_write.ts";
import { createRope } from "../gpu/ops/rope.ts";
import type { Dispatch, GpuRuntime } from "../gpu/runtime.ts";
import type { KvLayerBinding, KvStepBuffers } from "../kv/cache.ts";
import type { ModelHParams } from "./hparams.ts";
import type { ropeOptionsFor } from "./rope_options.ts";

/** A dispatch with the name of the forward-pass step it belongs to (for per-step GPU times). */
export interface NamedDispatch {
  /** Step name, e.g. `"attention"` or `"lm_head"`. */
  readonly name: string;
  /** The recorded op. */
  readonly op: Dispatch;
}

/** The buffers a sequence's cache stage and sampler read and write. */
export interface StageIo extends KvStepBuffers {
  /** (rows, n_head, head_dim) attention output. */
  readonly att: GPUBuffer;
  /** (n_vocab) f32 logits the sampler reads (row 0). */
  readonly logits: GPUBuffer;
  /** u32 [0]: the sampled token, the next decode step's input. */
  readonly token: GPUBuffer;
}

/** A sequence's cache stage over one set of KV bindings. */
export interface CacheStage {
  /** The buffers it reads and writes. */
  readonly io: StageIo;
  /** The bindings it was built over. */
  readonly bound: readonly KvLayerBinding[];
  /** Most rows a step may have. */
  readonly rows: number;
  /** Per layer: rope, kv_write, attention and the cache's ops, named by forward-pass step. */
  readonly layers: readonly (readonly NamedDispatch[])[];
  /** Frees the ops it created (never the cache's own). */
  destroy(): void;
}

/** What {@linkcode createCacheStage} builds over. */
export interface CacheStageOptions {
  /** The hyper-parameters the pass runs with. */
  readonly hparams: ModelHParams;
  /** The model's rotation settings. */
  readonly rope: ReturnType<typeof ropeOptionsFor>;
  /** The sequence's buffers. */
  readonly io: StageIo;
  /** Per layer, the cache. */
  readonly layers: readonly KvLayerBinding[];
  /** Most rows a step may have. */
  readonly rows: number;
  /** The attention's split-K scratch, made for `rows` rows (or more). */
  readonly scratch: AttentionScratch;
}

/**
 * Builds a sequence's cache stage: per layer RoPE of its rows, the write of
 * their K/V (where the cache says, else slot = position), attention over the
 * cache (the prompt kernel for several rows or a staging cache, whose
 * after-attention scores read its log-sum-exp; the decode kernel, adding each
 * slot's attention into its score, for one row), then the cache's ops.
 *
 * @param rt GPU runtime
 * @param options shapes, the sequence's buffers, its caches and the scratch
 * @returns the stage
 */
export function createCacheStage(rt: GpuRuntime, options: CacheStageOptions): CacheStage {
  const { io, rows } = options;
  const { nHead, nHeadKv, headDim } = options.hparams;
  const owned: Dispatch[] = [];
  const own = (name: string, op: Dispatch): NamedDispatch => (owned.push(op), { name, op });
  const layers = options.layers.map((cache, l) => {
    const label = `blk.${l}`;
    const { q, k, v, step } = io;
    const shape = { nHead, nHeadKv, headDim, nSlots: cache.nSlots };
    const { kCache, vCache, kvTypes } = cache;
    const prompt = rows > 1 || cache.staging === true;
    return [
      // rope
      own(
        "rope",
        createRope(rt, { q, k, nHead, nHeadKv, maxTokens: rows, step, rope: options.rope, label }),
      ),
      // kv write: where the cache says (slot = position when it says nothing)
      cache.write ? { name: "kv_write", op: cache.write } : own(
        "kv_write",
        createKvWrite(rt, {
          k,
          v,
          kCache,
          vCache,
          kvTypes,
          nHeadKv,
          headDim,
          nSlots: cache.nSlots,
          maxTokens: rows,
          step,
          label,
        }),
      ),
      // attention over the layer's cache (decode: adding each slot's attention into its score)
      own(
        "attention",
        prompt
          ? createAttentionPrefill(rt, {
            q,
            kCache,
            vCache,
            kvTypes,
            out: io.att,
            lse: io.lse,
            shape,
            step,
            maxTokens: rows,
            scratch: options.scratch,
            label,
          })
          : createAttentionDecode(rt, {
            q,
            kCache,
            vCache,
            kvTypes,
            out: io.att,
            shape,
            step,
            scratch: options.scratch,
            label,
            ...(cache.scores ? { scores: cache.scores } : {}),
            ...(cache.kvOffset ? { kvOffset: cache.kvOffset } : {}),
          }),
      ),
      // the cache's ops after attention (a prompt: its scores; decode: its eviction)
      ...cache.afterAttention.map((op) => ({ name: prompt ? "kv_stats" : "kv_evict", op })),
    ];
  });
  return {
    io,
    bound: options.layers,
    rows,
    layers,
    destroy: () => {
      for (const op of owned) op.destroy();
    },
  };
}
