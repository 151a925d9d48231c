/**
 * Continuous batching over a {@linkcode BatchEngine}: queued requests take
 * free slots (each prompt its own submissions, between decode steps), every
 * active slot advances one token per decode step, and a sequence that ends
 * (end of generation, its token limit, a stop string, a full context) frees
 * its slot for the next queued request at once. Under a KV memory cap a
 * request is admitted only when its cache fits beside the running ones
 * (`kv_charge.ts`). Results come out in finishing order.
 *
 * @module
 */

import { LimitError } from "../errors.ts";
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
  /** Most tokens to generate; −1 = until the context is full. */
  readonly nPredict: number;
  /** The request's sampler settings. */
  readonly sampler: SamplerParams;
  /** Texts that end the request. */
  readonly stop: readonly string[];
  /** KV bytes the request is charged while it runs (before its prompt is compressed). */
  readonly charge: number;
}

/** Why a request ended (the lone run's reasons, `generation.ts`). */
export type BatchStopReason = StopReason;

/** One finished request. */
export interface BatchResult {
  /** The request's id. */
  id: string | number;
  /** The generated text. */
  text: string;
  /** The generated token ids. */
  tokens: number[];
  /** Why it ended. */
  stopReason: BatchStopReason;
  /** Prompt tokens. */
  promptTokens: number;
  /** The slot it ran in. */
  slot: number;
  /** Milliseconds: waiting for a slot, the prompt, the decode; decode tokens per second. */
  timings: { queuedMs: number; promptMs: number; decodeMs: number; decodeTokensPerSecond: number };
  /** KV bytes its cache held allocated at the end. */
  kvBytes: number;
}

/** Where a batch run stands (after each step). */
export interface BatchProgress {
  /** Requests finished. */
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
  /** Called after each decode step. */
  readonly onProgress?: (progress: BatchProgress) => void;
  /** Polled after each step: true ends every running request as interrupted. */
  readonly interrupted?: () => boolean;
}

/** A running request. */
interface Running {
  readonly request: BatchRequest;
  readonly slot: number;
  /** Its tokens, text and stop rules. */
  readonly gen: Generation;
  readonly queuedMs: number;
  readonly promptMs: number;
  readonly t0: number;
  /** The token the prompt sampled. */
  readonly first: number;
  charge: number;
}

/**
 * Runs `requests` through the engine's slots, yielding each result when its request ends.
 *
 * @param engine the batch engine (its slots are the parallel sequences)
 * @param tokenizer the model's tokenizer (end of generation, detokenization)
 * @param requests the queue, in order
 * @param options EOS handling, memory cap, progress, interrupt
 * @throws {LimitError} when a request can never fit the memory cap
 */
export async function* runBatch(
  engine: BatchEngine,
  tokenizer: Tokenizer,
  requests: readonly BatchRequest[],
  options: BatchRunOptions = {},
): AsyncGenerator<BatchResult> {
  const cap = options.kvMemory ?? Infinity;
  for (const r of requests) {
    if (r.charge > cap) {
      throw new LimitError(
        `Cannot admit request ${JSON.stringify(r.id)}: its KV cache needs ${r.charge} bytes, ` +
          `more than --kv-memory's ${cap}`,
      );
    }
  }
  const queue = [...requests];
  const free = engine.sequences.map((_, i) => i);
  const running = new Map<number, Running>();
  const start = performance.now();
  let charged = 0;
  let done = 0;
  let decoded = 0;
  let decodeMs = 0;
  const end = (run: Running, stopReason: BatchStopReason): BatchResult => {
    const seq = engine.sequences[run.slot]!;
    const kvBytes = seq.kv.memory(seq.position).reduce((s, l) => s + l.allocatedBytes, 0);
    run.gen.finish(stopReason);
    engine.finish(run.slot);
    running.delete(run.slot);
    free.push(run.slot);
    free.sort((a, b) => a - b);
    charged -= run.charge;
    done++;
    const ms = performance.now() - run.t0;
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
        decodeMs: ms,
        decodeTokensPerSecond: tokens.length > 1 ? (tokens.length - 1) / (ms / 1000) : 0,
      },
      kvBytes,
    };
  };
  while (queue.length > 0 || running.size > 0) {
    // admit: the next queued request takes a free slot when its cache fits
    while (queue.length > 0 && free.length > 0 && charged + queue[0]!.charge <= cap) {
      const request = queue.shift()!;
      const slot = free.shift()!;
      const run = await admit(engine, tokenizer, request, slot, start, options.ignoreEos ?? false);
      charged += run.charge;
      running.set(slot, run);
      const stop = accept(run, run.first, engine);
      if (stop) yield end(run, stop);
    }
    if (running.size === 0) continue;
    const active = [...running.keys()];
    const t = performance.now();
    const next = await engine.step(active);
    decodeMs += performance.now() - t;
    decoded += active.length;
    const interrupted = options.interrupted?.() ?? false;
    for (const [i, slot] of active.entries()) {
      const run = running.get(slot)!;
      const stop = accept(run, next[i]!, engine);
      if (stop || interrupted) yield end(run, stop ?? "interrupted");
    }
    options.onProgress?.({
      done,
      total: requests.length,
      active: active.length,
      decoded,
      decodeMs,
      kvCharged: charged,
    });
    if (interrupted) return;
  }
}

/** Runs a request's prompt in `slot` and starts its state with the first token. */
async function admit(
  engine: BatchEngine,
  tokenizer: Tokenizer,
  request: BatchRequest,
  slot: number,
  start: number,
  ignoreEos: boolean,
): Promise<Running> {
  const t0 = performance.now();
  const first = await engine.start(slot, request.prompt, request.sampler);
  const t1 = performance.now();
  const kv = engine.sequences[slot]!.kv;
  const allocated = kv.memory(request.prompt.length).reduce((s, l) => s + l.allocatedBytes, 0);
  const { nPredict, prompt } = request;
  return {
    request,
    slot,
    gen: new Generation(tokenizer, {
      nPredict,
      limit: tokenLimit(nPredict, prompt.length, engine.nCtx),
      stop: request.stop,
      ignoreEos,
      emptyPrompt: request.emptyPrompt,
    }),
    queuedMs: t0 - start,
    promptMs: t1 - t0,
    t0: t1,
    // Charged its budget; once compressed, what its cache really allocated if that is more.
    charge: Math.max(request.charge, allocated),
    first,
  };
}

/** Takes a sequence's next token; returns why it ends, if it does (the lone run's rules). */
function accept(run: Running, token: number, engine: BatchEngine): BatchStopReason | undefined {
  const { stop } = run.gen.push(token);
  if (stop) return stop;
  if (!engine.sequences[run.slot]!.fits) return "context_full";
  return undefined;
}
