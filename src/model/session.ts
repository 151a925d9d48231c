/**
 * An inference session: a model's weights on the GPU, its forward pass, KV
 * cache and sampler, fed a prompt and then one token at a time. One command
 * submission and one read-back of 4 bytes per token. Loading lives in
 * `session_load.ts`, the run-ahead loop in `run_ahead.ts`, GPU timing in
 * `src/gpu/timing.ts`; this file runs steps.
 *
 * @module
 */

import { GpuError, LimitError } from "../errors.ts";
import { readBuffer } from "../gpu/buffers.ts";
import type { GpuRuntime } from "../gpu/runtime.ts";
import { createTimer, TOTAL_LABEL } from "../gpu/timing.ts";
import { kvBytesPerToken, type KvStore, type LayerKvMemory } from "../kv/cache.ts";
import { tokenizerFromMetadata } from "../tokenizer/mod.ts";
import type { Tokenizer } from "../tokenizer/tokenizer.ts";
import type { GpuForward } from "./forward.ts";
import type { GpuModelWeights } from "./gpu_weights.ts";
import type { ModelHParams } from "./hparams.ts";
import { type ModelFile, openModel } from "./model_file.ts";
import { runAhead } from "./run_ahead.ts";
import { loadSessionParts, type SessionOptions, type SessionParts } from "./session_load.ts";
import { createTokenSampler, type TokenSampler } from "./token_sampler.ts";

export type { LayerKvMemory } from "../kv/cache.ts";
export { defaultContext, type SessionOptions } from "./session_load.ts";

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
  /** Position of the next token fed. */
  position = 0;

  readonly #weights: GpuModelWeights;
  readonly #forward: GpuForward;
  readonly #kv: KvStore;
  readonly #sampler: TokenSampler;
  readonly #readback: GPUBuffer[];
  readonly #ownsDevice: boolean;
  #logitRing: GPUBuffer[] | undefined;
  readonly #seed: number;

  private constructor(model: ModelFile, tokenizer: Tokenizer, parts: SessionParts) {
    const { runtime, forward } = parts;
    this.model = model;
    this.hparams = model.hparams;
    this.tokenizer = tokenizer;
    this.runtime = runtime;
    this.nCtx = forward.nCtx;
    this.#weights = parts.weights;
    this.#forward = forward;
    this.#kv = parts.kv;
    this.#sampler = createTokenSampler(runtime, forward, parts.sampler);
    this.#seed = parts.sampler.seed;
    this.#ownsDevice = parts.ownsDevice;
    this.#readback = readbackRing(runtime.device, "token_readback", 16);
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
    return new Session(model, tokenizer, await loadSessionParts(model, options));
  }

  /** The KV cache (a policy's cache when the session has a policy, else the plain full cache). */
  get kvStore(): KvStore {
    return this.#kv;
  }

  /** GPU memory held, by purpose. */
  get memory(): SessionMemory {
    const kvLayers = this.#kv.memory(this.position);
    return {
      weightBytes: this.#weights.byteSize,
      kvBytes: kvLayers.reduce((s, l) => s + l.allocatedBytes, 0),
      kvLiveBytes: kvLayers.reduce((s, l) => s + l.liveBytes, 0),
      kvLayers,
      kvFullBytes: this.position * kvBytesPerToken(this.hparams) * this.hparams.nLayer,
      scratchBytes: this.#forward.scratchBytes,
    };
  }

  /**
   * Runs the prompt from the current position (in chunks) and samples the
   * token after it: the KV cache's prefill → plan → compress around the chunks.
   *
   * @param tokens prompt token ids (at least one)
   * @returns the sampled next token
   * @throws {LimitError} when the prompt does not fit in the context
   */
  async prefill(tokens: readonly number[]): Promise<number> {
    const next = await this.#prefillChunks(tokens);
    await this.#compressPrompt();
    return next;
  }

  /** Runs the prompt's chunks and samples the token after it; the KV cache is not planned yet. */
  async #prefillChunks(tokens: readonly number[]): Promise<number> {
    if (tokens.length === 0) throw new RangeError("Cannot prefill an empty prompt");
    const kv = this.#kv;
    if (!kv.compresses) this.#checkFits(tokens.length);
    const B = this.#forward.maxBatch;
    this.#forward.setPrefillCaches(kv.prefill(tokens.length, this.position), tokens.length);
    if (this.position === 0) this.#sampler.setHistory(tokens);
    const prefill = kv.compresses || undefined;
    let next = -1;
    for (let start = 0; start < tokens.length; start += B) {
      const chunk = tokens.slice(start, start + B);
      if (start + B >= tokens.length) {
        next = await this.#step(chunk, prefill);
        break;
      }
      this.#submitStep(chunk, undefined, prefill);
    }
    return next;
  }

  /** After the prompt's chunks: the KV cache plans its budgets and compresses (unless deferred). */
  async #compressPrompt(): Promise<void> {
    const kv = this.#kv;
    await kv.planBudgets();
    // --compress-at first-decode: the first decode step compresses (#firstDecode).
    if (!kv.deferred) this.#forward.setDecodeCaches(await kv.compress());
  }

  /**
   * The first decode step of a deferred compression (`--compress-at
   * first-decode`): the token runs through the prompt graph over the staging
   * cache, so it attends over all `T + 1` rows and its attention joins the
   * scores; then the cache compresses those rows.
   *
   * @param token the token to feed
   * @returns the sampled next token
   */
  async #firstDecode(token: number): Promise<number> {
    const next = await this.#step([token], true);
    this.#forward.setDecodeCaches(await this.#kv.compress());
    return next;
  }

  /**
   * Feeds one token at the current position and samples the next.
   *
   * @param token the token to feed
   * @returns the sampled next token
   * @throws {LimitError} when the context is full
   */
  async decode(token: number): Promise<number> {
    this.#checkFits(1);
    if (this.#kv.deferred) return await this.#firstDecode(token);
    return await this.#step([token]);
  }

  /**
   * Runs `tokens` from the current position and returns every row's logits
   * (row t predicts the token after `tokens[t]`). Needs `allLogits`.
   *
   * @param tokens token ids
   * @returns (tokens.length, n_vocab) logits
   */
  async evaluate(tokens: readonly number[]): Promise<Float32Array> {
    if (this.#kv.compresses) {
      throw new RangeError(
        "Cannot evaluate batches through a compressing KV cache: use teacherForce",
      );
    }
    this.#checkFits(tokens.length);
    const nVocab = this.hparams.nVocab;
    const out = new Float32Array(tokens.length * nVocab);
    const B = this.#forward.maxBatch;
    const dev = this.runtime.device;
    for (let start = 0; start < tokens.length; start += B) {
      const chunk = tokens.slice(start, start + B);
      this.#forward.writeInputs(chunk, this.position, this.#seed);
      const encoder = dev.createCommandEncoder({ label: "evaluate" });
      this.#forward.encode(encoder, chunk.length, { allLogits: true }).end();
      dev.queue.submit([encoder.finish()]);
      const source = chunk.length === 1 ? this.#forward.logits : this.#forward.logitsAll!;
      const bytes = await readBuffer(dev, source, chunk.length * nVocab * 4);
      out.set(new Float32Array(bytes), start * nVocab);
      this.position += chunk.length;
    }
    return out;
  }

  /** Reads back the logits of the last token run (opt-in: costs a large read-back). */
  async logits(): Promise<Float32Array> {
    const bytes = await readBuffer(
      this.runtime.device,
      this.#forward.logits,
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
    this.#checkFits(1);
    // A deferred compression's step runs through the prompt graph first (untimed): the timed step is the next.
    if (this.#kv.deferred) {
      token = await this.#firstDecode(token);
      this.#checkFits(1);
    }
    const dev = this.runtime.device;
    const timer = createTimer(this.runtime, this.#forward.decodeDispatchCount + 1);
    try {
      this.#forward.writeInputs([token], this.position, this.#seed);
      const encoder = dev.createCommandEncoder({ label: "profile" });
      this.#forward.encodeDecodeTimed(encoder, timer, [{ name: "sampler", op: this.#sampler }]);
      timer.resolve(encoder);
      encoder.copyBufferToBuffer(this.#forward.token, 0, this.#readback[0]!, 0, 4);
      dev.queue.submit([encoder.finish()]);
      this.position++;
      const ms = await timer.read();
      ms.delete(TOTAL_LABEL);
      return { token: await this.#readToken(this.#readback[0]!), ms };
    } finally {
      timer.destroy();
    }
  }

  /** Forgets the sequence: the next token goes to position 0. */
  reset(): void {
    this.position = 0;
  }

  /** Frees GPU memory and closes the model file. */
  close(): void {
    this.#forward.destroy();
    this.#kv.destroy();
    this.#sampler.destroy();
    this.#weights.destroy();
    for (const b of [...this.#readback, ...this.#logitRing ?? []]) b.destroy();
    if (this.#ownsDevice) this.runtime.device.destroy();
    this.model.close();
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
   * @param maxTokens most tokens to generate (the context may end it sooner)
   * @param afterStep called right after each decode step is submitted, before the next one (a
   *   caller that records state per step, e.g. compress-inspect, submits its copies there)
   * @param options `firstTokenEarly`: yield the prompt's token before the KV cache plans and
   *   compresses (a streaming caller shows it sooner; the compression then runs when the next
   *   token is asked for, or when the caller stops). Off by default: the caller sees the
   *   compressed cache at the first token, and decode timings start after the compression.
   */
  async *generate(
    prompt: readonly number[],
    maxTokens: number,
    afterStep?: () => void,
    options: { readonly firstTokenEarly?: boolean } = {},
  ): AsyncGenerator<number> {
    if (maxTokens < 1) return;
    let last: number;
    if (options.firstTokenEarly) {
      last = await this.#prefillChunks(prompt);
      try {
        yield last;
      } finally {
        await this.#compressPrompt();
      }
    } else {
      last = await this.prefill(prompt);
      yield last;
    }
    let submitted = 1;
    if (this.#kv.deferred && submitted < maxTokens && this.#fits(1)) {
      last = await this.#firstDecode(last);
      yield last;
      submitted++;
    }
    // The last sampled token is in the token buffer already; write it too so
    // the chain does not depend on how the prefill left it.
    this.runtime.device.queue.writeBuffer(this.#forward.token, 0, new Uint32Array([last]));
    yield* runAhead({
      ...this.#runAheadCommon(this.#readback),
      more: () => submitted < maxTokens && this.#fits(1),
      submit: (buffer) => {
        this.#submitStep("sampled", buffer);
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
    if (this.#kv.deferred && tokens.length > 0) {
      await this.#firstDecode(tokens[0]!);
      yield await this.logits();
      tokens = tokens.slice(1);
    }
    const dev = this.runtime.device;
    const bytes = this.hparams.nVocab * 4;
    this.#logitRing ??= readbackRing(dev, "logits_readback", bytes);
    let next = 0;
    yield* runAhead({
      ...this.#runAheadCommon(this.#logitRing),
      more: () => next < tokens.length,
      submit: (buffer) => {
        this.#forward.writeInputs([tokens[next++]!], this.position, this.#seed);
        const encoder = dev.createCommandEncoder({ label: "teacher_force" });
        this.#forward.encode(encoder, 1).end();
        encoder.copyBufferToBuffer(this.#forward.logits, 0, buffer, 0, bytes);
        dev.queue.submit([encoder.finish()]);
        this.position++;
      },
      read: (buffer) => new Float32Array(buffer.getMappedRange().slice(0)),
    });
  }

  #runAheadCommon(ring: readonly GPUBuffer[]) {
    return {
      ring,
      depth: LOOKAHEAD,
      failed: (error: unknown) => this.#gpuFailed(error),
      checkHealth: () => this.runtime.ctx.checkHealth(),
    };
  }

  async #step(tokens: readonly number[], prefill?: boolean): Promise<number> {
    const buffer = this.#readback[0]!;
    this.#submitStep(tokens, buffer, prefill);
    return await this.#readToken(buffer);
  }

  async #readToken(buffer: GPUBuffer): Promise<number> {
    await buffer.mapAsync(GPUMapMode.READ).catch((error) => this.#gpuFailed(error));
    const token = new Uint32Array(buffer.getMappedRange(0, 4))[0]!;
    buffer.unmap();
    this.runtime.ctx.checkHealth();
    return token;
  }

  /**
   * Submits one step's forward pass; with `readback`, also the sampler, whose
   * token is copied there (a prompt chunk before the last needs neither).
   */
  #submitStep(
    tokens: readonly number[] | "sampled",
    readback: GPUBuffer | undefined,
    prefill = tokens !== "sampled" && tokens.length > 1,
  ): void {
    const dev = this.runtime.device;
    const T = tokens === "sampled" ? 1 : tokens.length;
    const forward = this.#forward;
    forward.writeInputs(tokens, this.position, this.#seed, prefill);
    this.position += T;
    if (!prefill) {
      const encoder = dev.createCommandEncoder({ label: "decode" });
      const pass = forward.encode(encoder, T);
      if (readback) this.#sample(encoder, pass, readback);
      else pass.end();
      dev.queue.submit([encoder.finish()]);
      return;
    }
    // A prompt chunk goes to the GPU before its lm_head is recorded: the head's pipeline
    // compiles (first use) while the chunk runs, and a chunk before the last needs no head.
    const body = dev.createCommandEncoder({ label: "prefill" });
    forward.encodePromptBody(body, T);
    dev.queue.submit([body.finish()]);
    if (!readback) return;
    const encoder = dev.createCommandEncoder({ label: "prefill_head" });
    this.#sample(encoder, forward.encodePromptHead(encoder), readback);
    dev.queue.submit([encoder.finish()]);
  }

  /** Ends the step's open pass with the sampler, whose token is copied to `readback`. */
  #sample(encoder: GPUCommandEncoder, pass: GPUComputePassEncoder, readback: GPUBuffer): void {
    this.#sampler.encode(pass);
    pass.end();
    encoder.copyBufferToBuffer(this.#forward.token, 0, readback, 0, 4);
  }

  /** A read-back failed: report the device's own error if it has one, else this one. */
  #gpuFailed(error: unknown): never {
    this.runtime.ctx.checkHealth();
    throw new GpuError(`Cannot read a result back from the GPU: ${(error as Error).message}`, {
      cause: error,
    });
  }

  #fits(n: number): boolean {
    return this.#kv.unbounded || this.position + n <= this.nCtx;
  }

  #checkFits(n: number): void {
    if (this.#kv.compresses && this.position === 0) {
      throw new LimitError(
        "Cannot decode before a prompt: a compressing KV cache starts with prefill",
      );
    }
    if (!this.#kv.unbounded && this.position + n > this.nCtx) {
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
  return Array.from({ length: LOOKAHEAD }, (_, i) =>
    device.createBuffer({
      label: `${label}.${i}`,
      size: bytes,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    }));
}
