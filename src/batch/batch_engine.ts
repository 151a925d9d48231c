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

import { createReadback, readBuffer, readTokenIds } from "../gpu/buffers.ts";
import type { GpuRuntime } from "../gpu/runtime.ts";
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
    this.#readback = createReadback(dev, 4 * parallel, "batch.tokens");
    this.#firstToken = createReadback(dev, 4, "batch.first_token");
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
      sequenceKvBytes: this.sequences.map((s) => s.kvBytes),
    };
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
    const [first] = await readTokenIds(this.runtime.ctx, this.#firstToken, 1);
    await seq.settle();
    return first!;
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
    this.#gpu.forward.submitDecode(seqs, { readback: this.#readback });
    return await readTokenIds(this.runtime.ctx, this.#readback, seqs.length);
  }

  /**
   * One decode step of `active` with every dispatch timed in its own pass
   * (`GpuForward.profileDecode`). The sampled tokens stay on the GPU for the next step.
   *
   * @param active sequence indices, as for {@linkcode step}
   * @returns milliseconds per forward-pass step name, summed over layers and sequences
   */
  profileStep(active: readonly number[]): Promise<Map<string, number>> {
    return this.#gpu.forward.profileDecode(this.#active(active));
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
}
