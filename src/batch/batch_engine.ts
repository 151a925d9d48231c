/**
 * Batched decoding: a model's weights on the GPU once, `parallel` sequence
 * slots (each with its own KV cache under the policy, sampler and seed), and
 * a decode step that advances every active slot by one token in one command
 * submission with one read-back of their token ids. Prompts run per slot, as
 * their own submissions between decode steps. Everything is allocated when
 * the engine loads and reused as sequences come and go; only a compressing
 * policy's budget-sized caches are made per sequence (its prompt sets them).
 *
 * @module
 */

import { GpuError } from "../errors.ts";
import { readBuffer } from "../gpu/buffers.ts";
import { acquireGpu } from "../gpu/device.ts";
import { type AttentionScratch, createAttentionScratch } from "../gpu/ops/attention.ts";
import { createRuntime, type GpuRuntime } from "../gpu/runtime.ts";
import { createTimer } from "../gpu/timing.ts";
import { kvBytesPerToken } from "../kv/cache.ts";
import type { KvOptions } from "../kv/options.ts";
import type { GpuModelWeights } from "../model/gpu_weights.ts";
import { uploadModelWeights } from "../model/gpu_weights.ts";
import type { ModelFile } from "../model/model_file.ts";
import type { SamplerParams } from "../sample/params.ts";
import { BatchForward } from "./batch_forward.ts";
import { BatchSlot } from "./batch_slot.ts";

/** Options of {@linkcode BatchEngine.load}. */
export interface BatchEngineOptions {
  /** Sequence slots decoded together (`-np`). */
  readonly parallel: number;
  /** Most positions one sequence reaches. */
  readonly nCtx: number;
  /** Most prompt tokens per prefill chunk (default 128). */
  readonly maxBatch?: number;
  /** The KV policy; absent: the plain full cache. */
  readonly kv?: KvOptions | undefined;
  /** Keep what each prompt's compression did (tests). */
  readonly recordFates?: boolean;
  /** A runtime to share (tests); by default the engine acquires its own device. */
  readonly runtime?: GpuRuntime;
  /** Called as weights upload: (tensors done, total). */
  readonly onProgress?: (done: number, total: number) => void;
}

/** GPU memory of a batch engine, in bytes. */
export interface BatchMemory {
  /** Model weights (once for every slot). */
  readonly weightBytes: number;
  /** The batch step's activations (B rows). */
  readonly batchScratchBytes: number;
  /** Every slot's own forward buffers (prompt chunks, one-row step buffers). */
  readonly slotScratchBytes: number;
  /** Per slot: the KV bytes its cache holds allocated now. */
  readonly slotKvBytes: readonly number[];
}

/** A model and `parallel` sequence slots that decode together. */
export class BatchEngine {
  /** The GPU runtime. */
  readonly runtime: GpuRuntime;
  /** The slots, made once. */
  readonly slots: readonly BatchSlot[];
  /** Most positions one sequence reaches. */
  readonly nCtx: number;
  readonly #weights: GpuModelWeights;
  readonly #batch: BatchForward;
  readonly #scratch: AttentionScratch;
  readonly #readback: GPUBuffer;
  readonly #prefillReadback: GPUBuffer;
  readonly #ownsDevice: boolean;
  readonly #model: ModelFile;

  private constructor(
    model: ModelFile,
    runtime: GpuRuntime,
    weights: GpuModelWeights,
    options: BatchEngineOptions,
  ) {
    const hp = model.hparams;
    this.#model = model;
    this.runtime = runtime;
    this.#weights = weights;
    this.#ownsDevice = !options.runtime;
    this.nCtx = options.nCtx;
    const shape = {
      nHead: hp.nHead,
      nHeadKv: hp.nHeadKv,
      headDim: hp.headDim,
      nSlots: options.nCtx,
    };
    this.#scratch = createAttentionScratch(runtime, shape, 1);
    const slotOptions = {
      nCtx: options.nCtx,
      maxBatch: options.maxBatch ?? 128,
      kv: options.kv,
      recordFates: options.recordFates ?? false,
    };
    this.slots = Array.from(
      { length: options.parallel },
      () => new BatchSlot(runtime, hp, weights, slotOptions, this.#scratch),
    );
    this.#batch = new BatchForward(runtime, hp, weights, options.parallel);
    const dev = runtime.device;
    const readable = (size: number, label: string) =>
      dev.createBuffer({ label, size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.#readback = readable(4 * options.parallel, "batch.tokens");
    this.#prefillReadback = readable(4, "batch.first_token");
  }

  /**
   * Uploads an opened model and makes the slots; the engine takes ownership of `model`.
   *
   * @param model an opened, validated model
   * @param options slots, context, policy and device
   * @throws {GpuError} when there is no WebGPU adapter
   */
  static async load(model: ModelFile, options: BatchEngineOptions): Promise<BatchEngine> {
    if (!Number.isInteger(options.parallel) || options.parallel < 1) {
      throw new RangeError(
        `Cannot decode ${options.parallel} sequences together: expected at least 1`,
      );
    }
    const runtime = options.runtime ?? createRuntime(await acquireGpu());
    const weights = await uploadModelWeights(runtime, model, options.onProgress);
    return new BatchEngine(model, runtime, weights, options);
  }

  /** The model's file. */
  get model(): ModelFile {
    return this.#model;
  }

  /** GPU memory held, by purpose. */
  get memory(): BatchMemory {
    return {
      weightBytes: this.#weights.byteSize,
      batchScratchBytes: this.#batch.scratchBytes,
      slotScratchBytes: this.slots.reduce(
        (s, slot) => s + slot.forward.scratchBytes + slot.att.size,
        0,
      ),
      slotKvBytes: this.slots.map((slot) =>
        slot.kv.memory(slot.position).reduce((s, l) => s + l.allocatedBytes, 0)
      ),
    };
  }

  /** Bytes of one token's K and V over every layer. */
  get kvBytesPerToken(): number {
    const hp = this.#model.hparams;
    return kvBytesPerToken(hp) * hp.nLayer;
  }

  /**
   * Starts a sequence in slot `index` (its own submissions; no decode step is in flight).
   *
   * @param index the slot
   * @param tokens prompt token ids
   * @param params the sequence's sampler settings
   * @returns its first sampled token
   */
  async start(index: number, tokens: readonly number[], params: SamplerParams): Promise<number> {
    const slot = this.#slot(index);
    try {
      return await slot.prefill(tokens, params, this.#prefillReadback);
    } catch (error) {
      this.#checkGpu(error);
    }
  }

  /**
   * One decode step for the slots `active` (each fed the token it sampled
   * last): one submission, one read-back of `active.length` token ids.
   *
   * @param active slot indices, each with a sequence that still fits its context
   * @returns the next token of each, in the order of `active`
   */
  async step(active: readonly number[]): Promise<Uint32Array> {
    const slots = active.map((i) => this.#slot(i));
    for (const s of slots) {
      if (!s.fits) {
        throw new RangeError(`Cannot decode slot ${active[slots.indexOf(s)]}: its context is full`);
      }
    }
    const dev = this.runtime.device;
    const encoder = dev.createCommandEncoder({ label: "batch.step" });
    this.#batch.encode(encoder, slots, this.#readback);
    dev.queue.submit([encoder.finish()]);
    for (const s of slots) s.position++;
    try {
      await this.#readback.mapAsync(GPUMapMode.READ, 0, 4 * slots.length);
      const tokens = new Uint32Array(this.#readback.getMappedRange(0, 4 * slots.length).slice(0));
      this.#readback.unmap();
      this.runtime.ctx.checkHealth();
      return tokens;
    } catch (error) {
      this.#checkGpu(error);
    }
  }

  /**
   * One decode step of `active` with every dispatch timed in its own pass
   * (GPU timestamps when the adapter has them, else the step's wall clock
   * under `total`): milliseconds by forward-pass step name, summed over
   * layers and sequences. The sampled tokens stay on the GPU for the next step.
   *
   * @param active slot indices, as for {@linkcode step}
   * @returns milliseconds per step name
   */
  async profileStep(active: readonly number[]): Promise<Map<string, number>> {
    const slots = active.map((i) => this.#slot(i));
    const timer = createTimer(this.runtime, this.#batch.dispatchCount(slots));
    try {
      const dev = this.runtime.device;
      const encoder = dev.createCommandEncoder({ label: "batch.profile" });
      this.#batch.encode(encoder, slots, this.#readback, timer);
      timer.resolve(encoder);
      dev.queue.submit([encoder.finish()]);
      for (const s of slots) s.position++;
      return await timer.read();
    } finally {
      timer.destroy();
    }
  }

  /**
   * Reads back the logits slot `index` sampled its last token from (tests; a large read-back).
   *
   * @param index the slot
   */
  async logits(index: number): Promise<Float32Array> {
    const slot = this.#slot(index);
    const nVocab = this.#model.hparams.nVocab;
    return new Float32Array(await readBuffer(this.runtime.device, slot.forward.logits, nVocab * 4));
  }

  /**
   * Ends slot `index`'s sequence: frees its compressed cache; the slot stays for the next.
   *
   * @param index the slot
   */
  finish(index: number): void {
    this.#slot(index).release();
  }

  /** Frees every GPU buffer and closes the model file. */
  close(): void {
    for (const slot of this.slots) slot.destroy();
    this.#batch.destroy();
    this.#scratch.partAcc.destroy();
    this.#scratch.partMl.destroy();
    this.#readback.destroy();
    this.#prefillReadback.destroy();
    this.#weights.destroy();
    if (this.#ownsDevice) this.runtime.device.destroy();
    this.#model.close();
  }

  #slot(index: number): BatchSlot {
    const slot = this.slots[index];
    if (!slot) throw new RangeError(`No slot ${index}: the batch has ${this.slots.length}`);
    return slot;
  }

  #checkGpu(error: unknown): never {
    this.runtime.ctx.checkHealth();
    if (error instanceof Error && error.name === "OperationError") {
      throw new GpuError(`Cannot read a result back from the GPU: ${error.message}`, {
        cause: error,
      });
    }
    throw error;
  }
}
