/**
 * The KV-cache interface every policy goes through, the full cache
 * included. One sequence's life (cf. llama.cpp's `llama_memory_i`, kvpress's
 * press hooks):
 *
 * 1. {@linkcode KvStore.prefill}: the per-layer caches the prompt chunks
 *    write (slot = position) and the ops that run after each chunk's
 *    attention (the policy's prefill scores);
 * 2. {@linkcode KvStore.settle}: after the prompt, the policy plans the
 *    per-layer budgets from the prefill statistics and the prompt is
 *    compressed into the budget-sized caches — at once, or (a deferred
 *    compression, `--compress-at first-decode`) after one more step over the
 *    prompt's caches; returns the per-layer caches the next steps use;
 * 3. per token: the forward pass records the bindings' write, attention
 *    scores and after-attention ops (the eviction) in its step;
 * 4. {@linkcode KvStore.release}: the sequence's buffers are freed.
 *
 * The forward pass only binds what these bindings hold: buffers and ops the
 * cache made up front, never a call back into the cache while it records.
 *
 * @module
 */

import { kvElementBytes, type KvTypes } from "../gpu/ops/kv_elem.ts";
import type { KvSlotTable } from "../gpu/ops/kv_slot_table.ts";
import type { Dispatch } from "../gpu/runtime.ts";
import type { KvOptions } from "./option_types.ts";
import type { KvPlan, KvShape } from "./policy.ts";

/** The forward pass's step buffers the cache's ops read (made once per forward pass). */
export interface KvStepBuffers {
  /** Step uniform (position, token count, cache fill, seed). */
  readonly step: GPUBuffer;
  /** Most tokens per prompt chunk. */
  readonly maxBatch: number;
  /** The step's rotated queries (max_batch, n_head, head_dim). */
  readonly q: GPUBuffer;
  /** The step's rotated keys (max_batch, n_kv_heads, head_dim). */
  readonly k: GPUBuffer;
  /** The step's values (max_batch, n_kv_heads, head_dim). */
  readonly v: GPUBuffer;
  /** The prefill attention's per-row log-sum-exp (max_batch, n_head). */
  readonly lse: GPUBuffer;
}

/** One layer's cache as a forward graph binds it. */
export interface KvLayerBinding {
  /** Rotated keys (n_kv_heads, n_slots, head_dim), elements of `kvTypes.k`. */
  readonly kCache: GPUBuffer;
  /** Values (n_kv_heads, n_slots, head_dim), elements of `kvTypes.v`. */
  readonly vCache: GPUBuffer;
  /** Element types of the keys and the values (the kernels that read or write them are built for these). */
  readonly kvTypes: KvTypes;
  /** Slots per KV head. */
  readonly nSlots: number;
  /** The op writing the step's K and V rows; absent: slot = position (the forward pass's kv_write). */
  readonly write?: Dispatch;
  /** Decode: per-slot accumulated attention the decode attention adds into. */
  readonly scores?: GPUBuffer;
  /** Decode: positions the cache no longer holds, so its occupied slots are the first `n_kv − kvOffset`. */
  readonly kvOffset?: number;
  /** Ops recorded right after the layer's attention (prefill: the scores; decode: the eviction). */
  readonly afterAttention: readonly Dispatch[];
  /**
   * A prompt's staging cache (slot = position) whose after-attention ops read
   * the attention's per-row log-sum-exp: a step over it runs the prompt
   * attention kernel, even for one row.
   */
  readonly staging?: boolean;
}

/** KV-cache bytes of one layer. */
export interface LayerKvMemory {
  /** Bytes allocated for the layer's K and V slots. */
  readonly allocatedBytes: number;
  /** Bytes of the slots holding a token now. */
  readonly liveBytes: number;
}

/** What the prefill compression did to one layer: per (KV head, prompt position). */
export interface CompressionFate {
  /** `[nHeadKv][T']`: destination slot when kept, −1 when dropped, −2 − k when merged into slot k. */
  readonly fate: Int32Array;
  /** `[nHeadKv][T']`: an evicted row's best similarity to a kept row (NaN when not computed). */
  readonly similarity: Float32Array;
}

/** The GPU KV cache of one session, one sequence at a time. */
export interface KvStore {
  /** Policy name, as `--kv` spells it. */
  readonly policy: string;
  /** Element types of every layer's keys and values (`-ctk`, `-ctv`). */
  readonly kvTypes: KvTypes;
  /** The validated options, when the cache runs a policy. */
  readonly options: KvOptions | undefined;
  /** Whether a prompt must start a new sequence at position 0 (caches that compress). */
  readonly compresses: boolean;
  /** Whether positions may run past the capacity (every layer evicts). */
  readonly unbounded: boolean;
  /** The current sequence's budgets, once planned. */
  readonly plan: KvPlan | undefined;
  /** Per layer, the slot table (empty for the plain cache). */
  readonly tables: readonly KvSlotTable[];
  /** Per layer, the last decode step's eviction picks (4 words per KV head; empty for the plain cache). */
  readonly picks: readonly GPUBuffer[];
  /** Per layer, what the prefill compression did (only when recording fates). */
  readonly fates: readonly CompressionFate[] | undefined;
  /**
   * Whether the bindings of the last {@linkcode settle} hold for the rest of
   * the sequence. False while a deferred compression (`--compress-at
   * first-decode`) waits for its step: run one step over those bindings, then
   * call {@linkcode settle} again.
   */
  readonly settled: boolean;
  /** The per-layer caches decode steps bind (undefined before the first compression). */
  readonly step: readonly KvLayerBinding[] | undefined;
  /**
   * Starts (or, for the plain cache, continues) a sequence with a prompt.
   *
   * @param promptLength tokens of the prompt
   * @param position position of its first token
   * @returns per layer, the cache the prompt chunks write
   * @throws {LimitError} when a compressing cache gets a prompt after position 0
   */
  prefill(promptLength: number, position: number): readonly KvLayerBinding[];
  /**
   * After the prompt's chunks, and after each step while not
   * {@linkcode settled}: plans the budgets (once per prompt) and compresses
   * the prompt when it is due.
   *
   * @returns per layer, the cache the next steps bind
   */
  settle(): Promise<readonly KvLayerBinding[]>;
  /**
   * Per layer: allocated and live bytes, given how many tokens the sequence has seen.
   *
   * @param tokens tokens of the sequence so far
   */
  memory(tokens: number): LayerKvMemory[];
  /** Frees the current sequence's buffers (the plain cache keeps its one allocation). */
  release(): void;
  /** Frees every buffer. */
  destroy(): void;
}

/**
 * Bytes of one token's K and V in one layer, in their element types.
 *
 * @param shape KV heads and head size
 * @param types the keys' and the values' element types
 * @returns bytes
 * @example f32 keys and values, f16 ones (half), f16 keys over f32 values
 * ```ts
 * import assert from "node:assert/strict";
 * import { kvBytesPerToken } from "./cache.ts";
 * const shape = { nHeadKv: 4, headDim: 8 };
 * assert.equal(kvBytesPerToken(shape, { k: "f32", v: "f32" }), 256);
 * assert.equal(kvBytesPerToken(shape, { k: "f16", v: "f16" }), 128);
 * assert.equal(kvBytesPerToken(shape, { k: "f16", v: "f32" }), 192);
 * ```
 */
export function kvBytesPerToken(
  shape: Pick<KvShape, "nHeadKv" | "headDim">,
  types: KvTypes,
): number {
  return shape.nHeadKv * shape.headDim * (kvElementBytes(types.k) + kvElementBytes(types.v));
}

/**
 * Bytes of one token in one layer's larger cache buffer (K or V, whichever
 * type is wider): what bounds a layer's slots under a storage-binding limit.
 *
 * @param shape KV heads and head size
 * @param types the keys' and the values' element types
 * @returns bytes
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kvWidestBytesPerToken } from "./cache.ts";
 * assert.equal(kvWidestBytesPerToken({ nHeadKv: 4, headDim: 8 }, { k: "f16", v: "f32" }), 128);
 * ```
 */
export function kvWidestBytesPerToken(
  shape: Pick<KvShape, "nHeadKv" | "headDim">,
  types: KvTypes,
): number {
  return shape.nHeadKv * shape.headDim *
    Math.max(kvElementBytes(types.k), kvElementBytes(types.v));
}
