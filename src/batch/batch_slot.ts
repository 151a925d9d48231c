/**
 * One sequence slot of a batch: its own forward pass (for its prompt chunks
 * and the one-row step buffers its KV cache's ops read), its own KV cache
 * under the batch's policy, its own sampler and step uniform. The batch's
 * decode step (`batch_forward.ts`) runs the weights once for every slot and
 * calls {@linkcode BatchSlot.encodeLayer} for the per-sequence part of each
 * layer: RoPE, the KV write, attention over this slot's cache and the cache's
 * after-attention ops (score accumulation, eviction, merge). A slot is made
 * once for the batch and reused by every sequence that takes it.
 *
 * @module
 */

import { LimitError } from "../errors.ts";
import { createStorage } from "../gpu/buffers.ts";
import { type AttentionScratch, createAttentionDecode } from "../gpu/ops/attention.ts";
import { createKvWrite } from "../gpu/ops/kv_write.ts";
import { createRope } from "../gpu/ops/rope.ts";
import type { Dispatch, GpuRuntime } from "../gpu/runtime.ts";
import { writeStep } from "../gpu/step.ts";
import type { KvLayerBinding, KvStore } from "../kv/cache.ts";
import { FullKvStore } from "../kv/kv_store.ts";
import type { KvOptions } from "../kv/options.ts";
import { PolicyKvStore } from "../kv/policy_store.ts";
import type { SamplerParams } from "../sample/params.ts";
import { GpuForward, type NamedDispatch } from "../model/forward.ts";
import type { GpuModelWeights } from "../model/gpu_weights.ts";
import type { ModelHParams } from "../model/hparams.ts";
import { ropeOptionsFor } from "../model/rope_options.ts";
import { createTokenSampler, type TokenSampler } from "../model/token_sampler.ts";

/** Sizes and the KV policy every slot of a batch shares. */
export interface SlotOptions {
  /** Most positions one sequence reaches (prompt + generation). */
  readonly nCtx: number;
  /** Most prompt tokens per prefill chunk (as a lone session's `-b`). */
  readonly maxBatch: number;
  /** The KV policy; absent: the plain full cache (slot = position). */
  readonly kv?: KvOptions | undefined;
  /** Keep what each prompt's compression did (tests, inspection). */
  readonly recordFates?: boolean;
  /** Fuse norms into the prompt's mat-vecs as a lone session would (default: adapter's choice). */
  readonly fuseDecode?: boolean;
}

/** One sequence slot: forward buffers, KV cache, sampler and the per-sequence decode ops. */
export class BatchSlot {
  /** The slot's forward pass (prompt chunks, step uniform, one-row step buffers, logits, token). */
  readonly forward: GpuForward;
  /** The slot's KV cache. */
  readonly kv: KvStore;
  /** (n_head, head_dim) this slot's attention output of the current layer. */
  readonly att: GPUBuffer;
  /** Position of the next token fed. */
  position = 0;
  /** The current sequence's sampling seed. */
  seed = 0;

  readonly #rt: GpuRuntime;
  readonly #scratch: AttentionScratch;
  readonly #rope: ReturnType<typeof ropeOptionsFor>;
  #sampler: TokenSampler | undefined;
  #layers: NamedDispatch[][] = [];
  #owned: Dispatch[] = [];

  /**
   * @param rt GPU runtime
   * @param hp the model's hyper-parameters
   * @param w the model's weights (shared by every slot)
   * @param options sizes and policy
   * @param scratch decode attention's split-K scratch, shared by every slot
   */
  constructor(
    rt: GpuRuntime,
    hp: ModelHParams,
    w: GpuModelWeights,
    options: SlotOptions,
    scratch: AttentionScratch,
  ) {
    this.#rt = rt;
    this.#scratch = scratch;
    this.#rope = ropeOptionsFor(hp, w.ropeFreqs);
    this.forward = new GpuForward(rt, hp, w, {
      nCtx: options.nCtx,
      maxBatch: Math.max(options.kv ? 2 : 1, options.maxBatch),
      ...(options.fuseDecode === undefined ? {} : { fuseDecode: options.fuseDecode }),
    });
    this.kv = options.kv
      ? new PolicyKvStore(
        rt,
        hp,
        options.kv,
        options.nCtx,
        this.forward.io,
        options.recordFates ?? false,
      )
      : new FullKvStore(rt, hp, options.nCtx);
    this.att = createStorage(rt.device, hp.nHead * hp.headDim * 4, "slot.att");
    // A cache that never compresses has its step caches from the start (a one-token prompt).
    if (this.kv.step) this.forward.setDecodeCaches(this.kv.step);
  }

  /** Whether the slot's position may pass the context (every layer evicts). */
  get unbounded(): boolean {
    return this.kv.unbounded;
  }

  /** Whether one more token fits. */
  get fits(): boolean {
    return this.kv.unbounded || this.position + 1 <= this.forward.nCtx;
  }

  /**
   * Starts a sequence in this slot: runs its prompt through the slot's own
   * forward pass in chunks (as a lone session does, one submission per chunk),
   * plans and compresses the cache, builds the per-sequence decode ops, and
   * samples the first token (left in `forward.token`, also returned).
   *
   * @param tokens prompt token ids (at least one)
   * @param params this sequence's sampler settings
   * @param readback a 4-byte map-readable buffer
   * @returns the first sampled token
   * @throws {LimitError} when the prompt does not fit the context
   */
  async prefill(
    tokens: readonly number[],
    params: SamplerParams,
    readback: GPUBuffer,
  ): Promise<number> {
    if (tokens.length === 0) throw new RangeError("Cannot prefill an empty prompt");
    if (tokens.length > this.forward.nCtx) {
      throw new LimitError(
        `Cannot fit a prompt of ${tokens.length} tokens in a context of ${this.forward.nCtx}`,
      );
    }
    this.release();
    const { forward, kv } = this;
    const dev = this.#rt.device;
    this.seed = params.seed;
    this.#sampler = createTokenSampler(this.#rt, forward, params);
    this.#sampler.setHistory(tokens);
    forward.setPrefillCaches(kv.prefill(tokens.length, 0));
    const B = forward.maxBatch;
    const prefill = kv.compresses || tokens.length > 1;
    for (let start = 0; start < tokens.length; start += B) {
      const chunk = tokens.slice(start, start + B);
      const last = start + B >= tokens.length;
      const chunkPrefill = kv.compresses || chunk.length > 1;
      forward.writeInputs(chunk, start, this.seed, chunkPrefill);
      const encoder = dev.createCommandEncoder({ label: prefill ? "prefill" : "decode" });
      const pass = forward.encode(encoder, chunk.length, { prefill: chunkPrefill });
      if (last) this.#sampler.encode(pass);
      pass.end();
      if (last) encoder.copyBufferToBuffer(forward.token, 0, readback, 0, 4);
      dev.queue.submit([encoder.finish()]);
    }
    this.position = tokens.length;
    await readback.mapAsync(GPUMapMode.READ);
    const first = new Uint32Array(readback.getMappedRange(0, 4))[0]!;
    readback.unmap();
    await kv.planBudgets();
    if (kv.deferred) {
      throw new RangeError("Cannot batch a cache that compresses at the first decode step");
    }
    this.#bindDecode(await kv.compress());
    dev.queue.writeBuffer(forward.token, 0, new Uint32Array([first]));
    return first;
  }

  /** Writes this slot's step uniform for its next decode token (before the step's submit). */
  writeDecodeStep(): void {
    const pos = this.position;
    writeStep(this.#rt.device, this.forward.step, {
      pos,
      nTokens: 1,
      nKv: pos + 1,
      seed: this.seed,
    });
  }

  /**
   * Layer `l`'s per-sequence ops, named by forward-pass step: RoPE of this
   * slot's row, its KV write, attention over its cache into {@linkcode att},
   * the cache's after-attention ops (its eviction).
   *
   * @param l layer index
   */
  layerOps(l: number): readonly NamedDispatch[] {
    return this.#layers[l]!;
  }

  /** This sequence's sampler: `forward.logits` → `forward.token[0]`. */
  get sampleOp(): NamedDispatch {
    return { name: "sampler", op: this.#sampler! };
  }

  /** Frees the current sequence's decode ops and compressed cache; the slot stays. */
  release(): void {
    for (const op of this.#owned) op.destroy?.();
    this.#owned = [];
    this.#layers = [];
    this.#sampler?.destroy?.();
    this.#sampler = undefined;
    this.kv.release();
    this.position = 0;
  }

  /** Frees everything the slot made. */
  destroy(): void {
    this.release();
    this.kv.destroy();
    this.forward.destroy();
    this.att.destroy();
  }

  /** Builds the per-sequence ops of every layer over the cache's decode bindings. */
  #bindDecode(layers: readonly KvLayerBinding[]): void {
    const rt = this.#rt;
    const hp = this.forward.hparams;
    const { nHead, nHeadKv, headDim } = hp;
    const { q, k, v, step } = this.forward.io;
    this.#layers = layers.map((cache, l) => {
      const label = `batch.blk.${l}`;
      const rope = createRope(rt, {
        q,
        k,
        nHead,
        nHeadKv,
        maxTokens: 1,
        step,
        rope: this.#rope,
        label,
      });
      const write = cache.write ?? createKvWrite(rt, {
        k,
        v,
        kCache: cache.kCache,
        vCache: cache.vCache,
        nHeadKv,
        headDim,
        nSlots: cache.nSlots,
        maxTokens: 1,
        step,
        label,
      });
      const attention = createAttentionDecode(rt, {
        q,
        kCache: cache.kCache,
        vCache: cache.vCache,
        out: this.att,
        shape: { nHead, nHeadKv, headDim, nSlots: cache.nSlots },
        step,
        scratch: this.#scratch,
        label,
        ...(cache.scores ? { scores: cache.scores } : {}),
        ...(cache.kvOffset ? { kvOffset: cache.kvOffset } : {}),
      });
      this.#owned.push(rope, attention);
      if (!cache.write) this.#owned.push(write);
      return [
        { name: "rope", op: rope },
        { name: "kv_write", op: write },
        { name: "attention", op: attention },
        ...cache.afterAttention.map((op) => ({ name: "kv_evict", op })),
      ];
    });
  }
}
