/**
 * One sequence on the GPU: its KV cache, its buffers, its sampler, its
 * position and seed, and its cache stages (`cache_stage.ts`). A lone
 * session's sequence works in the forward pass's own buffers; a batch's
 * sequences have one-row buffers of their own. Either way its prompt runs
 * through the forward's prompt path in chunks, one submission each (a few
 * layers at a time when a caller waits on it, `prompt_pacer.ts`), and its
 * decode steps are the forward's one recipe (`forward.ts`).
 *
 * @module
 */

import { LimitError } from "../errors.ts";
import type { Dispatch, GpuRuntime } from "../gpu/runtime.ts";
import { writeStep } from "../gpu/step.ts";
import type { KvLayerBinding, KvStore } from "../kv/cache.ts";
import type { SamplerParams } from "../sample/params.ts";
import type { CacheStage, GpuForward, StageIo, StepSequence } from "./forward.ts";
import { GpuForward as Forward } from "./forward.ts";
import { PromptPacer } from "./prompt_pacer.ts";
import { createTokenSampler, type TokenSampler } from "./token_sampler.ts";

/**
 * Called between a prompt's submissions with the prompt tokens done (whole
 * layers' worth) of the total; it may throw to stop the prompt.
 */
export type PromptProgress = (done: number, total: number) => void | Promise<void>;

/** A sequence: KV cache, buffers, sampler, position, seed and cache stages. */
export class Sequence implements StepSequence {
  /** Its KV cache. */
  readonly kv: KvStore;
  /** Its buffers: the forward's own for a lone sequence, else its own one-row buffers. */
  readonly io: StageIo;
  /** Position of the next token fed. */
  position = 0;
  /** The current sampler's seed. */
  seed = 0;

  readonly #rt: GpuRuntime;
  readonly #forward: GpuForward;
  #sampler: TokenSampler | undefined;
  #prompt: CacheStage | undefined;
  #decode: CacheStage | undefined;
  #bound: readonly KvLayerBinding[] | undefined;
  #pacer: PromptPacer | undefined;

  /**
   * @param rt GPU runtime
   * @param forward the forward pass it runs through
   * @param kv its KV cache (the sequence frees it)
   * @param io its buffers: `forward.io`, or from `forward.createSequenceIo` (the sequence frees those)
   */
  constructor(rt: GpuRuntime, forward: GpuForward, kv: KvStore, io: StageIo) {
    this.#rt = rt;
    this.#forward = forward;
    this.kv = kv;
    this.io = io;
    this.#bound = kv.step;
  }

  /** Whether it shares the forward pass's buffers (a lone sequence). */
  get shared(): boolean {
    return this.io === this.#forward.io;
  }

  /**
   * Its decode stage over the caches {@linkcode bind} gave, built on first use
   * (a prompt's first token needs only the prompt stage, so the decode
   * stage's pipelines compile after it is out).
   */
  get stage(): CacheStage {
    if (!this.#bound) throw new RangeError("Cannot decode a sequence before its cache is bound");
    if (this.#decode?.bound !== this.#bound) {
      this.#decode?.destroy();
      this.#decode = this.#forward.createStage(this.io, this.#bound, 1);
    }
    return this.#decode;
  }

  /** Its sampler (set by {@linkcode setSampler}). */
  get sampler(): Dispatch {
    if (!this.#sampler) throw new RangeError("Cannot sample a sequence without a sampler");
    return this.#sampler;
  }

  /** KV bytes its cache holds allocated now. */
  get kvBytes(): number {
    return this.kv.memory(this.position).reduce((sum, l) => sum + l.allocatedBytes, 0);
  }

  /** Whether one more token fits its context (a cache whose every layer evicts has no end). */
  get fits(): boolean {
    return this.kv.unbounded || this.position + 1 <= this.#forward.nCtx;
  }

  /**
   * Sets the sampler for the next prompt (replacing the last one).
   *
   * @param params validated sampling settings
   */
  setSampler(params: SamplerParams): void {
    this.#sampler?.destroy();
    const nVocab = this.#forward.hparams.nVocab;
    this.#sampler = createTokenSampler(this.#rt, nVocab, this.io, params);
    this.seed = params.seed;
  }

  /**
   * Tells the sampler the sequence so far (its repetition penalty window).
   *
   * @param tokens the tokens before the next sampled one
   */
  setHistory(tokens: ArrayLike<number>): void {
    this.#sampler?.setHistory(tokens);
  }

  /**
   * Binds the caches the next decode steps read and maintain (the same
   * bindings again build nothing).
   *
   * @param layers per layer, from the KV cache
   */
  bind(layers: readonly KvLayerBinding[]): void {
    this.#bound = layers;
  }

  /**
   * Submits a prompt from the current position: its K/V go where the KV
   * cache's `prefill` says, in chunks of up to max_batch tokens, one
   * submission each; the last chunk's logits are sampled into `io.token`
   * (copied to `readback` when given). The cache is not settled yet.
   *
   * With `onProgress`, each submission is waited for and the hook called
   * after it, and a chunk is cut into submissions of a few layers each when
   * it takes long ({@linkcode PromptPacer}): a stop request or a progress line
   * need not wait for the whole prompt. The hook may throw to stop the prompt
   * (the sequence must then be released).
   *
   * @param tokens prompt token ids (at least one)
   * @param readback a 4-byte map-readable buffer for the sampled token
   * @param onProgress called between submissions with prompt tokens done (whole layers' worth) of the total
   */
  async submitPrompt(
    tokens: readonly number[],
    readback?: GPUBuffer,
    onProgress?: PromptProgress,
  ): Promise<void> {
    if (tokens.length === 0) throw new RangeError("Cannot prefill an empty prompt");
    const forward = this.#forward;
    if (!this.kv.compresses && this.position + tokens.length > forward.nCtx) {
      throw new LimitError(
        `Cannot fit a prompt of ${tokens.length} tokens at position ${this.position} in a ` +
          `context of ${forward.nCtx}`,
      );
    }
    const dev = this.#rt.device;
    const stage = this.#promptStage(
      this.kv.prefill(tokens.length, this.position),
      forward.promptRows(tokens.length),
    );
    const B = forward.maxBatch;
    const nLayer = forward.hparams.nLayer;
    // The pacer keeps what it measured from one prompt to the next.
    const pacer = onProgress ? (this.#pacer ??= new PromptPacer(nLayer)) : undefined;
    for (let start = 0; start < tokens.length; start += B) {
      const chunk = tokens.slice(start, start + B);
      const T = chunk.length;
      forward.writePrompt(chunk, this.position, this.seed);
      this.position += T;
      // A chunk goes to the GPU before its lm_head is recorded: the head's pipeline
      // compiles (first use) while the chunk runs, and a chunk before the last needs no head.
      for (let from = 0; from < nLayer;) {
        const to = pacer ? Math.min(nLayer, from + pacer.layers(T)) : nLayer;
        const body = dev.createCommandEncoder({ label: "prefill" });
        forward.encodePromptBody(body, stage, T, { from, to });
        const t0 = performance.now();
        dev.queue.submit([body.finish()]);
        if (pacer && onProgress) {
          await dev.queue.onSubmittedWorkDone();
          pacer.record(performance.now() - t0, T, to - from);
          await onProgress(start + Math.floor((T * to) / nLayer), tokens.length);
        }
        from = to;
      }
      if (start + B < tokens.length) continue;
      const encoder = dev.createCommandEncoder({ label: "prefill_head" });
      let pass = forward.encodePromptHead(encoder, T);
      if (!this.shared) {
        // The sampler reads this sequence's logits and seed.
        pass.end();
        const bytes = forward.hparams.nVocab * 4;
        encoder.copyBufferToBuffer(forward.logits, 0, this.io.logits, 0, bytes);
        const pos = this.position - 1;
        writeStep(dev, this.io.step, { pos, nTokens: 1, nKv: pos + 1, seed: this.seed });
        pass = encoder.beginComputePass({ label: "sampler" });
      }
      this.sampler.encode(pass);
      pass.end();
      if (readback) encoder.copyBufferToBuffer(this.io.token, 0, readback, 0, 4);
      dev.queue.submit([encoder.finish()]);
    }
  }

  /**
   * Brings the KV cache up to date after the prompt or a step
   * (`KvStore.settle`) and binds what the next steps read.
   */
  async settle(): Promise<void> {
    this.bind(await this.kv.settle());
  }

  /** Ends the sequence: frees its stages and its cache's per-sequence buffers; it can start again. */
  release(): void {
    this.#prompt?.destroy();
    this.#decode?.destroy();
    this.#prompt = this.#decode = undefined;
    this.kv.release();
    // A cache that never compresses keeps its caches for the next sequence.
    this.#bound = this.kv.step;
    this.position = 0;
  }

  /** Frees everything it holds (its own buffers, its cache, its sampler). */
  destroy(): void {
    this.release();
    this.kv.destroy();
    this.#sampler?.destroy();
    this.#sampler = undefined;
    if (!this.shared) Forward.destroyIo(this.io);
  }

  /** The prompt stage over the cache's prompt bindings (rebuilt for new bindings or more rows). */
  #promptStage(layers: readonly KvLayerBinding[], rows: number): CacheStage {
    const have = this.#prompt;
    if (have && have.bound === layers && have.rows >= rows) return have;
    have?.destroy();
    return this.#prompt = this.#forward.createStage(this.#forward.io, layers, rows);
  }
}
