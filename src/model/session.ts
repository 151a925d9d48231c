/**
 * An inference session: a model on the GPU (`gpu_model.ts`) and one sequence
 * (`sequence.ts`) fed a prompt and then one token at a time. One command
 * submission and one read-back of 4 bytes per token. The run-ahead loop
 * lives in `run_ahead.ts`, GPU timing in `src/gpu/timing.ts`; this file runs
 * steps.
 *
 * @module
 */

import { LimitError } from "../errors.ts";
import { createReadback, readBuffer, readFailed, readTokenIds } from "../gpu/buffers.ts";
import type { GpuRuntime } from "../gpu/runtime.ts";
import { TOTAL_LABEL } from "../gpu/timing.ts";
import { kvBytesPerToken, type KvStore, type LayerKvMemory } from "../kv/cache.ts";
import { type SamplerParams, samplerParams } from "../sample/params.ts";
import { tokenizerFromMetadata } from "../tokenizer/mod.ts";
import type { Tokenizer } from "../tokenizer/tokenizer.ts";
import { GpuModel, type GpuModelOptions } from "./gpu_model.ts";
import type { ModelHParams } from "./hparams.ts";
import { type ModelFile, openModel } from "./model_file.ts";
import { runAhead } from "./run_ahead.ts";
import type { PromptProgress, Sequence } from "./sequence.ts";

export type { LayerKvMemory } from "../kv/cache.ts";
export { defaultContext } from "./gpu_model.ts";

/** Options of `Session.open` and `Session.load`. */
export interface SessionOptions extends Omit<GpuModelOptions, "parallel"> {
  /** Sampling settings (default: greedy; otherwise llama.cpp's defaults for what is not given). */
  readonly sampler?: Partial<SamplerParams>;
}

/** GPU memory a session holds, in bytes. */
export interface SessionMemory {
  /** Model weights. */
  readonly weightBytes: number;
  /** K and V caches, allocated. */
  readonly kvBytes: number;
  /** K and V slots holding a token now. */
  readonly kvLiveBytes: number;
  /** Per layer: allocated and live K/V bytes. */
  readonly kvLayers: readonly LayerKvMemory[];
  /** What an uncompressed cache would take for every position fed so far. */
  readonly kvFullBytes: number;
  /** Activations, logits, step uniform. */
  readonly scratchBytes: number;
}

/** A loaded model ready to generate. */
export class Session {
  /** The model file (kept open for its metadata). */
  readonly model: ModelFile;
  /** The model's hyper-parameters. */
  readonly hparams: ModelHParams;
  /** The model's tokenizer. */
  readonly tokenizer: Tokenizer;
  /** The GPU runtime. */
  readonly runtime: GpuRuntime;
  /** KV cache slots. */
  readonly nCtx: number;

  readonly #gpu: GpuModel;
  readonly #seq: Sequence;
  readonly #readback: GPUBuffer[];
  #logitRing: GPUBuffer[] | undefined;

  private constructor(gpu: GpuModel, tokenizer: Tokenizer, sampler: SamplerParams) {
    this.#gpu = gpu;
    this.model = gpu.file;
    this.hparams = gpu.file.hparams;
    this.tokenizer = tokenizer;
    this.runtime = gpu.runtime;
    this.nCtx = gpu.nCtx;
    this.#seq = gpu.createSequence(true);
    this.#seq.setSampler(sampler);
    this.#readback = readbackRing(gpu.runtime.device, "token_readback", 16);
  }

  /**
   * Opens a model file and uploads it to the GPU.
   *
   * @param path a GGUF file
   * @param options context, batch, sampler and device
   * @throws {InputError} for a missing or malformed file
   * @throws {UnsupportedError} for a model d2o cannot run
   * @throws {GpuError} when there is no WebGPU adapter
   */
  static async open(path: string, options: SessionOptions = {}): Promise<Session> {
    const model = await openModel(path);
    try {
      return await Session.load(model, tokenizerFromMetadata(model.gguf.metadata), options);
    } catch (error) {
      model.close();
      throw error;
    }
  }

  /**
   * Uploads an opened model to the GPU; the session takes ownership of `model`.
   *
   * @param model an opened, validated model
   * @param tokenizer the model's tokenizer
   * @param options context, batch, sampler and device
   * @throws {GpuError} when there is no WebGPU adapter
   * @throws {LimitError} for a context size below 1
   */
  static async load(
    model: ModelFile,
    tokenizer: Tokenizer,
    options: SessionOptions = {},
  ): Promise<Session> {
    const { sampler, ...rest } = options;
    const params = samplerParams({ temperature: 0, seed: 0, ...sampler });
    return new Session(await GpuModel.load(model, rest), tokenizer, params);
  }

  /** Position of the next token fed. */
  get position(): number {
    return this.#seq.position;
  }

  /** The KV cache (a policy's cache when the session has a policy, else the plain full cache). */
  get kvStore(): KvStore {
    return this.#seq.kv;
  }

  /** GPU memory held, by purpose. */
  get memory(): SessionMemory {
    const kvLayers = this.#seq.kv.memory(this.position);
    return {
      weightBytes: this.#gpu.weights.byteSize,
      kvBytes: kvLayers.reduce((s, l) => s + l.allocatedBytes, 0),
      kvLiveBytes: kvLayers.reduce((s, l) => s + l.liveBytes, 0),
      kvLayers,
      kvFullBytes: this.position * kvBytesPerToken(this.hparams, this.#gpu.kvTypes) *
        this.hparams.nLayer,
      scratchBytes: this.#gpu.forward.scratchBytes,
    };
  }

  /**
   * Runs the prompt from the current position (in chunks) and samples the
   * token after it; then the KV cache settles (plans and compresses).
   *
   * @param tokens prompt token ids (at least one)
   * @param onProgress called between the prompt's submissions (`Sequence.submitPrompt`); may throw to stop it
   * @returns the sampled next token
   * @throws {LimitError} when the prompt does not fit in the context
   */
  async prefill(tokens: readonly number[], onProgress?: PromptProgress): Promise<number> {
    const next = await this.#prefillChunks(tokens, onProgress);
    await this.#seq.settle();
    return next;
  }

  /** Runs the prompt's chunks and samples the token after it; the KV cache is not settled yet. */
  async #prefillChunks(tokens: readonly number[], onProgress?: PromptProgress): Promise<number> {
    if (!this.#seq.kv.compresses) this.#checkFits(tokens.length);
    if (this.position === 0) this.#seq.setHistory(tokens);
    const buffer = this.#readback[0]!;
    await this.#seq.submitPrompt(tokens, buffer, onProgress);
    return await this.#readToken(buffer);
  }

  /**
   * Feeds one token at the current position and samples the next; a cache
   * that waits for this step (a deferred compression) settles after it.
   *
   * @param token the token to feed
   * @returns the sampled next token
   * @throws {LimitError} when the context is full
   */
  async decode(token: number): Promise<number> {
    this.#checkFits(1);
    const buffer = this.#readback[0]!;
    this.#submitDecode(token, buffer);
    const next = await this.#readToken(buffer);
    if (!this.#seq.kv.settled) await this.#seq.settle();
    return next;
  }

  /**
   * Runs `tokens` from the current position and returns every row's logits
   * (row t predicts the token after `tokens[t]`). Needs `allLogits`.
   *
   * @param tokens token ids
   * @returns (tokens.length, n_vocab) logits
   */
  async evaluate(tokens: readonly number[]): Promise<Float32Array> {
    if (this.#seq.kv.compresses) {
      throw new RangeError(
        "Cannot evaluate batches through a compressing KV cache: use teacherForce",
      );
    }
    this.#checkFits(tokens.length);
    const nVocab = this.hparams.nVocab;
    const out = new Float32Array(tokens.length * nVocab);
    const forward = this.#gpu.forward;
    const B = forward.maxBatch;
    const dev = this.runtime.device;
    const stage = forward.createStage(forward.io, this.#seq.kv.prefill(0, 0), B);
    try {
      for (let start = 0; start < tokens.length; start += B) {
        const chunk = tokens.slice(start, start + B);
        forward.writePrompt(chunk, this.position, this.#seq.seed);
        const encoder = dev.createCommandEncoder({ label: "evaluate" });
        forward.encodePromptBody(encoder, stage, chunk.length);
        forward.encodePromptHead(encoder, chunk.length, { allRows: true }).end();
        dev.queue.submit([encoder.finish()]);
        const bytes = await readBuffer(dev, forward.logits, chunk.length * nVocab * 4);
        out.set(new Float32Array(bytes), start * nVocab);
        this.#seq.position += chunk.length;
      }
    } finally {
      stage.destroy();
    }
    return out;
  }

  /** Reads back the logits of the last token run (opt-in: costs a large read-back). */
  async logits(): Promise<Float32Array> {
    const bytes = await readBuffer(
      this.runtime.device,
      this.#gpu.forward.logits,
      this.hparams.nVocab * 4,
    );
    return new Float32Array(bytes);
  }

  /**
   * Decodes one token with every dispatch timed by GPU timestamp queries
   * (`src/gpu/timing.ts`), and returns the sampled token and the GPU
   * milliseconds per forward-pass step (summed over layers). Undefined when
   * the adapter has no timestamp queries.
   *
   * @param token the token to feed
   */
  async profileDecode(
    token: number,
  ): Promise<{ token: number; ms: Map<string, number> } | undefined> {
    if (!this.runtime.ctx.hasTimestamps) return undefined;
    // A cache still settling takes its step first (untimed): the timed step is the next.
    if (!this.#seq.kv.settled) token = await this.decode(token);
    this.#checkFits(1);
    this.#writeToken(token);
    const buffer = this.#readback[0]!;
    const ms = await this.#gpu.forward.profileDecode([this.#seq], buffer);
    ms.delete(TOTAL_LABEL);
    return { token: await this.#readToken(buffer), ms };
  }

  /** Forgets the sequence: the next token goes to position 0. */
  reset(): void {
    this.#seq.position = 0;
  }

  /** Frees GPU memory and closes the model file. */
  close(): void {
    this.#seq.destroy();
    for (const b of [...this.#readback, ...this.#logitRing ?? []]) b.destroy();
    this.#gpu.destroy();
  }

  /**
   * Generates up to `maxTokens` tokens after `prompt` (run from the current
   * position), yielding each as soon as it is read back. Steps run ahead of
   * the read-backs ({@linkcode runAhead}): each decode step reads the token
   * the previous step's sampler left on the GPU, so up to
   * {@linkcode LOOKAHEAD} steps are in flight. When the consumer stops early
   * (end of sequence, a stop string), the steps already submitted have still
   * run: {@linkcode position} counts them.
   *
   * @param prompt prompt token ids (at least one)
   * @param maxTokens most tokens to generate (the context may end it sooner); 0 runs the prompt
   *   alone (its KV cache filled and settled) and yields nothing, as llama.cpp's `-n 0` does
   * @param afterStep called right after each decode step is submitted, before the next one (a
   *   caller that records state per step, e.g. compress-inspect, submits its copies there)
   * @param options `firstTokenEarly`: yield the prompt's token before the KV cache settles (a
   *   streaming caller shows it sooner; the cache then settles when the next token is asked
   *   for, or when the caller stops). Off by default: the caller sees the settled cache at the
   *   first token, and decode timings start after the compression. `onPromptProgress`: called
   *   between the prompt's submissions ({@linkcode prefill}); it may throw to stop the prompt.
   */
  async *generate(
    prompt: readonly number[],
    maxTokens: number,
    afterStep?: () => void,
    options: {
      readonly firstTokenEarly?: boolean;
      readonly onPromptProgress?: PromptProgress;
    } = {},
  ): AsyncGenerator<number> {
    const onProgress = options.onPromptProgress;
    if (maxTokens < 1) {
      await this.prefill(prompt, onProgress);
      return;
    }
    let last: number;
    if (options.firstTokenEarly) {
      last = await this.#prefillChunks(prompt, onProgress);
      try {
        yield last;
      } finally {
        await this.#seq.settle();
      }
    } else {
      last = await this.prefill(prompt, onProgress);
      yield last;
    }
    let submitted = 1;
    // A cache still settling takes its steps one at a time, read back before the next.
    while (!this.#seq.kv.settled && submitted < maxTokens && this.#fits(1)) {
      last = await this.decode(last);
      yield last;
      submitted++;
    }
    // The last sampled token is in the token buffer already; write it too so
    // the chain does not depend on how the prompt or a step left it.
    this.#writeToken(last);
    yield* runAhead({
      ...this.#runAheadCommon(this.#readback),
      more: () => submitted < maxTokens && this.#fits(1),
      submit: (buffer) => {
        this.#submitDecode(undefined, buffer);
        afterStep?.();
        submitted++;
      },
      read: (buffer) => new Uint32Array(buffer.getMappedRange(0, 4))[0]!,
    });
  }

  /**
   * Feeds `tokens` one at a time from the current position (teacher forcing)
   * and yields the logits after each, as a fresh (n_vocab) array. Like
   * {@linkcode generate}, steps run ahead of their read-backs.
   *
   * @param tokens the tokens to feed
   */
  async *teacherForce(tokens: readonly number[]): AsyncGenerator<Float32Array> {
    this.#checkFits(tokens.length);
    let next = 0;
    // A cache still settling takes its steps one at a time, read back before the next.
    while (!this.#seq.kv.settled && next < tokens.length) {
      await this.decode(tokens[next++]!);
      yield await this.logits();
    }
    const dev = this.runtime.device;
    const bytes = this.hparams.nVocab * 4;
    this.#logitRing ??= readbackRing(dev, "logits_readback", bytes);
    const forward = this.#gpu.forward;
    yield* runAhead({
      ...this.#runAheadCommon(this.#logitRing),
      more: () => next < tokens.length,
      submit: (buffer) => {
        this.#submitDecode(tokens[next++]!, undefined, (encoder) => {
          encoder.copyBufferToBuffer(forward.logits, 0, buffer, 0, bytes);
        });
      },
      read: (buffer) => new Float32Array(buffer.getMappedRange().slice(0)),
    });
  }

  #runAheadCommon(ring: readonly GPUBuffer[]) {
    return {
      ring,
      depth: LOOKAHEAD,
      failed: (error: unknown) => readFailed(this.runtime.ctx, error),
      checkHealth: () => this.runtime.ctx.checkHealth(),
    };
  }

  /**
   * Submits one decode step of the sequence: fed `token` (undefined: the token
   * its last step sampled, still on the GPU); the sampled token is copied to
   * `readback` when given, and `after` records more into the step's encoder.
   */
  #submitDecode(
    token: number | undefined,
    readback: GPUBuffer | undefined,
    after?: (encoder: GPUCommandEncoder) => void,
  ): void {
    if (token !== undefined) this.#writeToken(token);
    this.#gpu.forward.submitDecode([this.#seq], { readback, after });
  }

  /** Writes the token the next decode step is fed. */
  #writeToken(token: number): void {
    this.runtime.device.queue.writeBuffer(this.#seq.io.token, 0, new Uint32Array([token]));
  }

  async #readToken(buffer: GPUBuffer): Promise<number> {
    return (await readTokenIds(this.runtime.ctx, buffer, 1))[0]!;
  }

  #fits(n: number): boolean {
    return this.#seq.kv.unbounded || this.position + n <= this.nCtx;
  }

  #checkFits(n: number): void {
    if (this.#seq.kv.compresses && this.position === 0) {
      throw new LimitError(
        "Cannot decode before a prompt: a compressing KV cache starts with prefill",
      );
    }
    if (!this.#fits(n)) {
      throw new LimitError(
        `Cannot fit ${n} more tokens at position ${this.position}: the context holds ${this.nCtx} ` +
          `(raise -c/--ctx up to the model's ${this.hparams.nCtxTrain})`,
      );
    }
  }
}

/** Decode steps in flight ahead of their read-backs in {@linkcode Session.generate}. */
export const LOOKAHEAD = 8;

/** {@linkcode LOOKAHEAD} map-readable buffers of `bytes` each. */
function readbackRing(device: GPUDevice, label: string, bytes: number): GPUBuffer[] {
  return Array.from(
    { length: LOOKAHEAD },
    (_, i) => createReadback(device, bytes, `${label}.${i}`),
  );
}
