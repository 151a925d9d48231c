/**
 * Continuous batching over a {@linkcode BatchEngine}: queued requests take
 * free slots (each prompt its own submissions, between decode steps), every
 * active slot advances one token per decode step, and a sequence that ends
 * (end of generation, its token limit, a stop string, a full context) frees
 * its slot for the next queued request at once. Under a KV memory cap a
 * request is admitted only when its cache fits beside the running ones (a
 * request whose cache can never fit is refused before the run,
 * `run_limits.ts`). Every request ends with one line, in finishing order: its
 * result; an error line when its prompt hits a limit while it runs, while the
 * others go on; and after a stop request, each running one as interrupted and
 * each queued one as not started.
 *
 * @module
 */

import { type D2oError, LimitError } from "../errors.ts";
import type { SamplerParams } from "../sample/params.ts";
import type { Tokenizer } from "../tokenizer/tokenizer.ts";
import { Generation, type StopReason, tokenLimit } from "../model/generation.ts";
import type { BatchEngine } from "./batch_engine.ts";

/** One prompt to run. */
export interface BatchRequest {
  /** The caller's id, echoed in the result. */
  readonly id: string | number;
  /** Prompt token ids (at least one). */
  readonly prompt: readonly number[];
  /** Whether the prompt text was empty (the first piece keeps no leading space). */
  readonly emptyPrompt: boolean;
  /** Most tokens to generate; −1 = until the context is full; 0 = the prompt alone. */
  readonly nPredict: number;
  /** The request's sampler settings. */
  readonly sampler: SamplerParams;
  /** Texts that end the request. */
  readonly stop: readonly string[];
  /** KV bytes the request is charged while it runs (before its prompt is compressed). */
  readonly charge: number;
}

/** One finished request (or one a stop request cut short). */
export interface BatchResult {
  /** The request's id. */
  id: string | number;
  /** The generated text. */
  text: string;
  /** The generated token ids. */
  tokens: number[];
  /** Why it ended (the lone run's reasons, `generation.ts`). */
  stopReason: StopReason;
  /** Prompt tokens. */
  promptTokens: number;
  /** The slot it ran in. */
  slot: number;
  /** Milliseconds: waiting for a slot, the prompt, the decode; decode tokens per second. */
  timings: { queuedMs: number; promptMs: number; decodeMs: number; decodeTokensPerSecond: number };
  /** KV bytes its cache held allocated at the end. */
  kvBytes: number;
}

/** A request that could not run: why, and the exit code of its class. */
export interface BatchFailure {
  /** The request's id. */
  id: string | number;
  /** Always `error`. */
  stopReason: "error";
  /** What went wrong, as the `d2o:` line of a lone run says it. */
  error: string;
  /** The exit code of its class (6 for a limit). */
  exitCode: number;
  /** Prompt tokens. */
  promptTokens: number;
}

/** A queued request that a stop request left unstarted. */
export interface BatchUnstarted {
  /** The request's id. */
  id: string | number;
  /** Always `not_started`. */
  stopReason: "not_started";
  /** Prompt tokens. */
  promptTokens: number;
}

/** The line of one request: every request gets exactly one. */
export type BatchLine = BatchResult | BatchFailure | BatchUnstarted;

/** Where a batch run stands (after each step). */
export interface BatchProgress {
  /** Requests ended (finished, failed or cut short). */
  readonly done: number;
  /** Requests in all. */
  readonly total: number;
  /** Sequences in the last decode step. */
  readonly active: number;
  /** Tokens decoded by decode steps so far. */
  readonly decoded: number;
  /** Milliseconds spent in decode steps so far. */
  readonly decodeMs: number;
  /** KV bytes charged to the running sequences. */
  readonly kvCharged: number;
}

/** Options of {@linkcode runBatch}. */
export interface BatchRunOptions {
  /** Keep generating past end-of-generation tokens. */
  readonly ignoreEos?: boolean;
  /** KV bytes all running sequences may hold together; absent: no cap beyond the slots. */
  readonly kvMemory?: number | undefined;
  /** Called after each decode step (it may throw to end the run, e.g. a closed stdout). */
  readonly onProgress?: (progress: BatchProgress) => void;
  /**
   * Called between a prompt's submissions with its tokens done of the total
   * (it may throw to end the run).
   */
  readonly onPromptProgress?: (request: BatchRequest, done: number, total: number) => void;
  /**
   * Polled after each step and between a prompt's submissions: true ends
   * every running request as interrupted and every queued one as not started.
   */
  readonly interrupted?: () => boolean;
}

/** A running request: its prompt ran in `slot`. */
interface Running {
  readonly request: BatchRequest;
  readonly slot: number;
  /** Its tokens, text and stop rules. */
  readonly gen: Generation;
  /** Milliseconds it waited for a slot. */
  readonly queuedMs: number;
  /** Milliseconds its prompt took. */
  readonly promptMs: number;
  /** When its decode started. */
  readonly t0: number;
  /** Its budget; once compressed, what its cache really allocated if that is more. */
  readonly charge: number;
}

/** Thrown between a prompt's submissions when a stop request came. */
class PromptStopped extends Error {}

/**
 * Runs `requests` through the engine's slots, yielding each request's line when it ends.
 *
 * @param engine the batch engine (its slots are the parallel sequences)
 * @param tokenizer the model's tokenizer (end of generation, detokenization)
 * @param requests the queue, in order
 * @param options EOS handling, memory cap, progress, interrupt
 */
export async function* runBatch(
  engine: BatchEngine,
  tokenizer: Tokenizer,
  requests: readonly BatchRequest[],
  options: BatchRunOptions = {},
): AsyncGenerator<BatchLine> {
  const run = new BatchRun(engine, tokenizer, requests, options);
  while (run.busy) {
    if (run.interrupted) return yield* run.stopAll();
    // admit: the next queued request takes a free slot when its cache fits
    while (run.admissible) {
      const admitted = await run.admitNext();
      if (admitted === "stopped") return yield* run.stopAll();
      if (admitted) yield admitted;
    }
    if (run.interrupted) return yield* run.stopAll();
    yield* await run.step();
  }
}

/** The state of one {@linkcode runBatch}: the queue, the slots, the counts. */
class BatchRun {
  readonly #engine: BatchEngine;
  readonly #tokenizer: Tokenizer;
  readonly #options: BatchRunOptions;
  readonly #total: number;
  readonly #cap: number;
  readonly #queue: BatchRequest[];
  readonly #free: number[];
  readonly #running = new Map<number, Running>();
  readonly #start = performance.now();
  #charged = 0;
  #done = 0;
  #decoded = 0;
  #decodeMs = 0;
  /** The line of the request whose prompt a stop request cut short. */
  #cutShort: BatchResult | undefined;

  constructor(
    engine: BatchEngine,
    tokenizer: Tokenizer,
    requests: readonly BatchRequest[],
    options: BatchRunOptions,
  ) {
    this.#engine = engine;
    this.#tokenizer = tokenizer;
    this.#options = options;
    this.#total = requests.length;
    this.#cap = options.kvMemory ?? Infinity;
    // It would wait for ever: checkRunLimits gives such a request its error line before the run.
    const unfit = requests.find((r) => r.charge > this.#cap);
    if (unfit) {
      throw new RangeError(
        `Cannot queue prompt ${JSON.stringify(unfit.id)}: its KV cache needs ${unfit.charge} ` +
          `bytes, more than the cap of ${this.#cap}`,
      );
    }
    this.#queue = [...requests];
    this.#free = engine.sequences.map((_, i) => i);
  }

  /** Whether a request is queued or running. */
  get busy(): boolean {
    return this.#queue.length > 0 || this.#running.size > 0;
  }

  /** Whether a stop request came. */
  get interrupted(): boolean {
    return this.#options.interrupted?.() ?? false;
  }

  /** Whether the next queued request can take a free slot now. */
  get admissible(): boolean {
    const next = this.#queue[0];
    return next !== undefined && this.#free.length > 0 && this.#charged + next.charge <= this.#cap;
  }

  /**
   * Runs the next queued request's prompt in a free slot.
   *
   * @returns its line when it ended at once (n_predict 0, its first token ends it, a limit its
   *   prompt met), `stopped` when a stop request cut its prompt short (its line is yielded by
   *   {@linkcode stopAll}), else undefined
   */
  async admitNext(): Promise<BatchLine | "stopped" | undefined> {
    const request = this.#queue.shift()!;
    const slot = this.#free.shift()!;
    const seq = this.#engine.sequences[slot]!;
    const t0 = performance.now();
    let first: number;
    try {
      first = await this.#engine.start(slot, request.prompt, request.sampler, (done, total) => {
        this.#options.onPromptProgress?.(request, done, total);
        if (this.interrupted) throw new PromptStopped();
      });
    } catch (error) {
      this.#release(slot);
      this.#done++;
      if (error instanceof PromptStopped) {
        // No token and no cache; its line comes first when stopAll ends the others.
        this.#cutShort = line(this.#run(request, slot, t0, 0), "interrupted", 0, 0);
        return "stopped";
      }
      // A limit its prompt met while it ran (the kernels' bounds): its line; the others go on.
      if (!(error instanceof LimitError)) throw error;
      return failureLine(request.id, request.prompt.length, error);
    }
    const run = this.#run(request, slot, t0, Math.max(request.charge, seq.kvBytes));
    this.#charged += run.charge;
    this.#running.set(slot, run);
    // n_predict 0: the prompt alone, no token.
    const stop = request.nPredict === 0 ? run.gen.limitReason : this.#accept(run, first);
    return stop ? this.#end(run, stop) : undefined;
  }

  /** One decode step of every running request; the lines of those it ends. */
  async step(): Promise<BatchLine[]> {
    if (this.#running.size === 0) return [];
    const active = [...this.#running.keys()];
    const t = performance.now();
    const next = await this.#engine.step(active);
    this.#decodeMs += performance.now() - t;
    this.#decoded += active.length;
    const stopping = this.interrupted;
    const lines: BatchLine[] = [];
    for (const [i, slot] of active.entries()) {
      const run = this.#running.get(slot)!;
      const stop = this.#accept(run, next[i]!);
      if (stop || stopping) lines.push(this.#end(run, stop ?? "interrupted"));
    }
    this.#options.onProgress?.({
      done: this.#done,
      total: this.#total,
      active: active.length,
      decoded: this.#decoded,
      decodeMs: this.#decodeMs,
      kvCharged: this.#charged,
    });
    return lines;
  }

  /**
   * After a stop request: every running request's line (interrupted), then
   * every queued one's (a prompt cut short first: interrupted, no token; the
   * rest not started).
   */
  *stopAll(): Generator<BatchLine> {
    if (this.#cutShort) yield this.#cutShort;
    for (const run of [...this.#running.values()]) yield this.#end(run, "interrupted");
    for (const r of this.#queue.splice(0)) {
      this.#done++;
      yield { id: r.id, stopReason: "not_started", promptTokens: r.prompt.length };
    }
  }

  /** Ends a running request: its line; its slot and charge go back. */
  #end(run: Running, stopReason: StopReason): BatchResult {
    const kvBytes = this.#engine.sequences[run.slot]!.kvBytes;
    run.gen.finish(stopReason);
    this.#release(run.slot);
    this.#charged -= run.charge;
    this.#done++;
    return line(run, stopReason, kvBytes, performance.now() - run.t0);
  }

  /** Takes a sequence's next token; returns why it ends, if it does (the lone run's rules). */
  #accept(run: Running, token: number): StopReason | undefined {
    const { stop } = run.gen.push(token);
    if (stop) return stop;
    if (!this.#engine.sequences[run.slot]!.fits) return "context_full";
    return undefined;
  }

  /**
   * A request whose prompt ran in `slot` from `t0` until now, with its
   * generation (token limit, stop strings, EOS handling).
   */
  #run(request: BatchRequest, slot: number, t0: number, charge: number): Running {
    const { nPredict, prompt } = request;
    const gen = new Generation(this.#tokenizer, {
      nPredict,
      limit: tokenLimit(nPredict, prompt.length, this.#engine.nCtx),
      stop: request.stop,
      ignoreEos: this.#options.ignoreEos ?? false,
      emptyPrompt: request.emptyPrompt,
    });
    const t1 = performance.now();
    return { request, slot, gen, queuedMs: t0 - this.#start, promptMs: t1 - t0, t0: t1, charge };
  }

  #release(slot: number): void {
    this.#engine.finish(slot);
    this.#running.delete(slot);
    this.#free.push(slot);
    this.#free.sort((a, b) => a - b);
  }
}

/** A request's line when it ended, with its cache's bytes and its decode's milliseconds. */
function line(
  run: Running,
  stopReason: StopReason,
  kvBytes: number,
  decodeMs: number,
): BatchResult {
  const { tokens, text } = run.gen;
  return {
    id: run.request.id,
    text,
    tokens,
    stopReason,
    promptTokens: run.request.prompt.length,
    slot: run.slot,
    timings: {
      queuedMs: run.queuedMs,
      promptMs: run.promptMs,
      decodeMs,
      decodeTokensPerSecond: tokens.length > 1 ? (tokens.length - 1) / (decodeMs / 1000) : 0,
    },
    kvBytes,
  };
}

/**
 * The line of a request that cannot run.
 *
 * @param id the request's id
 * @param promptTokens its prompt's tokens
 * @param error why, with the exit code of its class
 */
export function failureLine(
  id: string | number,
  promptTokens: number,
  error: D2oError,
): BatchFailure {
  return { id, stopReason: "error", error: error.message, exitCode: error.exitCode, promptTokens };
}
