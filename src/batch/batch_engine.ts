/**
 * Batched decoding: a model on the GPU once (`GpuModel`, the loader a lone
 * session uses too), `parallel` sequences (each with its own KV cache under
 * the policy, sampler and seed), and a decode step that advances every
 * active sequence by one token in one command submission — the forward
 * pass's one recipe over their rows — with one read-back of their token ids.
 * Prompts run per sequence, as their own submissions between decode steps.
 * Everything is allocated when the engine loads and reused as sequences come
 * and go; only a compressing policy's budget-sized caches are made per
 * sequence (its prompt sets them).
 *
 * @module
 */

import { GpuError } from "../errors.ts";
import { readBuffer } from "../gpu/buffers.ts";
import type { GpuRuntime } from "../gpu/runtime.ts";
import { createTimer } from "../gpu/timing.ts";
import { kvBytesPerToken } from "../kv/cache.ts";
import { GpuModel, type GpuModelOptions } from "../model/gpu_model.ts";
import type { ModelFile } from "../model/model_file.ts";
import type { PromptProgress, Sequence } from "../model/sequence.ts";
import type { SamplerParams } from "../sample/params.ts";

/** Options of {@linkcode BatchEngine.load}: the loader's, with the sequences decoded together. */
export interface BatchEngineOptions extends Omit<GpuModelOptions, "allLogits"> {
  /** Sequences decoded together (`-np`). */
  readonly parallel: number;
}

/** GPU memory of a batch engine, in bytes. */
export interface BatchMemory {
  /** Model weights (once for every sequence). */
  readonly weightBytes: number;
  /** The forward pass's buffers (prompt chunks and the batch step's rows). */
  readonly scratchBytes: number;
  /** Per sequence: the KV bytes its cache holds allocated now. */
  readonly sequenceKvBytes: readonly number[];
}

/** A model and `parallel` sequences that decode together. */
export class BatchEngine {
  /** The sequences, made once. */
  readonly sequences: readonly Sequence[];
  readonly #gpu: GpuModel;
  readonly #readback: GPUBuffer;
  readonly #firstToken: GPUBuffer;

  private constructor(gpu: GpuModel, parallel: number) {
    this.#gpu = gpu;
    this.sequences = Array.from({ length: parallel }, () => gpu.createSequence(false));
    const dev = gpu.runtime.device;
    const readable = (size: number, label: string) =>
      dev.createBuffer({ label, size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.#readback = readable(4 * parallel, "batch.tokens");
    this.#firstToken = readable(4, "batch.first_token");
  }

  /**
   * Uploads an opened model and makes the sequences; the engine takes ownership of `model`.
   *
   * @param model an opened, validated model
   * @param options sequences, context, policy and device
   * @throws {GpuError} when there is no WebGPU adapter
   */
  static async load(model: ModelFile, options: BatchEngineOptions): Promise<BatchEngine> {
    if (options.kv?.compressAt === "first-decode") {
      throw new RangeError("Cannot batch a cache that compresses at the first decode step");
    }
    return new BatchEngine(await GpuModel.load(model, options), options.parallel);
  }

  /** The GPU runtime. */
  get runtime(): GpuRuntime {
    return this.#gpu.runtime;
  }

  /** The model's file. */
  get model(): ModelFile {
    return this.#gpu.file;
  }

  /** Most positions one sequence reaches. */
  get nCtx(): number {
    return this.#gpu.nCtx;
  }

  /** GPU memory held, by purpose. */
  get memory(): BatchMemory {
    return {
      weightBytes: this.#gpu.weights.byteSize,
      scratchBytes: this.#gpu.forward.scratchBytes,
      sequenceKvBytes: this.sequences.map((s) =>
        s.kv.memory(s.position).reduce((sum, l) => sum + l.allocatedBytes, 0)
      ),
    };
  }

  /** Bytes of one token's K and V over every layer, in the caches' element types. */
  get kvBytesPerToken(): number {
    const hp = this.#gpu.hparams;
    return kvBytesPerToken(hp, this.#gpu.kvTypes) * hp.nLayer;
  }

  /**
   * Starts a sequence in slot `index` (its own submissions; no decode step is
   * in flight): its prompt in chunks, then its cache settles (plans and
   * compresses).
   *
   * @param index the sequence
   * @param tokens prompt token ids
   * @param params the sequence's sampler settings
   * @param onProgress called between the prompt's submissions (`Sequence.submitPrompt`); may throw to stop it
   * @returns its first sampled token
   */
  async start(
    index: number,
    tokens: readonly number[],
    params: SamplerParams,
    onProgress?: PromptProgress,
  ): Promise<number> {
    const seq = this.#sequence(index);
    seq.release();
    seq.setSampler(params);
    seq.setHistory(tokens);
    await seq.submitPrompt(tokens, this.#firstToken, onProgress);
    try {
      const first = await this.#read(this.#firstToken, 1);
      await seq.settle();
      return first[0]!;
    } catch (error) {
      this.#checkGpu(error);
    }
  }

  /**
   * One decode step for the sequences `active` (each fed the token it sampled
   * last): one submission, one read-back of `active.length` token ids.
   *
   * @param active sequence indices, each with a sequence that still fits its context
   * @returns the next token of each, in the order of `active`
   */
  async step(active: readonly number[]): Promise<Uint32Array> {
    const seqs = this.#active(active);
    const dev = this.runtime.device;
    const forward = this.#gpu.forward;
    forward.writeDecode(seqs);
    const encoder = dev.createCommandEncoder({ label: "batch.step" });
    forward.encodeDecode(encoder, seqs, this.#readback);
    dev.queue.submit([encoder.finish()]);
    for (const s of seqs) s.position++;
    try {
      return await this.#read(this.#readback, seqs.length);
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
   * @param active sequence indices, as for {@linkcode step}
   * @returns milliseconds per step name
   */
  async profileStep(active: readonly number[]): Promise<Map<string, number>> {
    const seqs = this.#active(active);
    const forward = this.#gpu.forward;
    const timer = createTimer(this.runtime, forward.decodeDispatchCount(seqs));
    try {
      forward.writeDecode(seqs);
      const encoder = this.runtime.device.createCommandEncoder({ label: "batch.profile" });
      forward.encodeDecode(encoder, seqs, undefined, timer);
      timer.resolve(encoder);
      this.runtime.device.queue.submit([encoder.finish()]);
      for (const s of seqs) s.position++;
      return await timer.read();
    } finally {
      timer.destroy();
    }
  }

  /**
   * Reads back the logits sequence `index` sampled its last token from (tests; a large read-back).
   *
   * @param index the sequence
   */
  async logits(index: number): Promise<Float32Array> {
    const seq = this.#sequence(index);
    const bytes = this.#gpu.hparams.nVocab * 4;
    return new Float32Array(await readBuffer(this.runtime.device, seq.io.logits, bytes));
  }

  /**
   * Ends sequence `index`: frees its compressed cache; the slot stays for the next.
   *
   * @param index the sequence
   */
  finish(index: number): void {
    this.#sequence(index).release();
  }

  /** Frees every GPU buffer and closes the model file. */
  close(): void {
    for (const seq of this.sequences) seq.destroy();
    this.#readback.destroy();
    this.#firstToken.destroy();
    this.#gpu.destroy();
  }

  #sequence(index: number): Sequence {
    const seq = this.sequences[index];
    if (!seq) throw new RangeError(`No sequence ${index}: the batch has ${this.sequences.length}`);
    return seq;
  }

  /** The sequences of a step, each with room for one more token. */
  #active(active: readonly number[]): Sequence[] {
    return active.map((i) => {
      const seq = this.#sequence(i);
      if (!seq.fits) throw new RangeError(`Cannot decode sequence ${i}: its context is full`);
      return seq;
    });
  }

  /** Maps a read-back buffer and copies out its first `n` token ids. */
  async #read(buffer: GPUBuffer, n: number): Promise<Uint32Array> {
    await buffer.mapAsync(GPUMapMode.READ, 0, 4 * n);
    const tokens = new Uint32Array(buffer.getMappedRange(0, 4 * n).slice(0));
    buffer.unmap();
    this.runtime.ctx.checkHealth();
    return tokens;
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
