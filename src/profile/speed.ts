/**
 * Speed tests on a session, as llama-bench runs them: a warm-up, then `reps`
 * timed runs. A prompt test (`ppN`) times one prefill of N synthetic tokens;
 * a generation test (`tgN`) times N decode steps of the run-ahead generator
 * (each token's interval between read-backs is one ms/token sample). A depth
 * D first prefills D tokens, untimed, so the timed part runs against a cache
 * that already holds them (compressed by the session's policy).
 *
 * @module
 */

import { LimitError } from "../errors.ts";
import type { Session } from "../model/session.ts";
import { type MeanStd, meanStd, quantile } from "./stats.ts";
import { promptVocabulary, syntheticTokens } from "./synthetic_tokens.ts";
import type { SpeedTest } from "./test_name.ts";

/** Figures of one speed test. */
export interface SpeedResult {
  /** Timed runs. */
  readonly reps: number;
  /** Tokens per second over the runs. */
  readonly tokensPerSecond: MeanStd;
  /** Milliseconds per token: median and 90th percentile. */
  readonly msPerToken: { readonly median: number; readonly p90: number };
  /** Wall milliseconds of each timed run. */
  readonly runMs: readonly number[];
}

/** GPU milliseconds of one forward-pass step (summed over layers), per decode token. */
export interface KernelTime {
  /** Step name, e.g. `attention`. */
  readonly name: string;
  /** Mean GPU milliseconds per token. */
  readonly ms: number;
}

/** Options of {@linkcode runSpeedTest}. */
export interface SpeedOptions {
  /** Timed runs after the warm-up. */
  readonly reps: number;
  /** Seed of the synthetic tokens. */
  readonly seed: number;
  /** Called after the warm-up and after each timed run. */
  readonly onRun?: () => void;
}

/**
 * Runs one speed test: a warm-up and `reps` timed runs, each from an empty cache.
 *
 * @param session an open session (reset before every run)
 * @param test the test
 * @param options repetitions, seed and a progress hook
 * @returns tokens per second and ms per token
 * @throws {LimitError} when the test does not fit the session's context
 */
export async function runSpeedTest(
  session: Session,
  test: SpeedTest,
  options: SpeedOptions,
): Promise<SpeedResult> {
  const tokens = testTokens(session, test, options.seed);
  const runMs: number[] = [];
  for (let rep = 0; rep <= options.reps; rep++) {
    session.reset();
    const ms = test.nPrompt > 0
      ? await timePrompt(session, tokens.depth, tokens.timed)
      : await timeGeneration(session, tokens.depth, test.nGen);
    options.onRun?.();
    if (rep > 0) runMs.push(ms); // the first is the warm-up
  }
  const n = test.nPrompt > 0 ? test.nPrompt : test.nGen;
  // A run's time per token is its mean: a decode run's tokens arrive in bursts (run_ahead.ts
  // keeps several steps in flight), so the gaps between them measure nothing.
  const perToken = runMs.map((ms) => ms / n);
  return {
    reps: options.reps,
    tokensPerSecond: meanStd(runMs.map((ms) => n / (ms / 1000))),
    msPerToken: { median: quantile(perToken, 0.5), p90: quantile(perToken, 0.9) },
    runMs,
  };
}

/**
 * GPU time per forward-pass step of a decode token, from timestamp queries,
 * averaged over `steps` tokens decoded after the test's depth. When the
 * adapter has no timestamp queries, one entry: the wall time of a whole step.
 *
 * @param session an open session (reset first)
 * @param test the generation test whose depth to decode at
 * @param options steps to average and the seed of the synthetic tokens
 * @returns the steps in pass order with their mean milliseconds
 */
export async function measureKernels(
  session: Session,
  test: SpeedTest,
  options: { steps: number; seed: number },
): Promise<KernelTime[]> {
  session.reset();
  const { depth } = testTokens(session, test, options.seed);
  let token = await session.prefill(depth);
  const steps: Map<string, number>[] = [];
  for (let i = 0; i < options.steps; i++) {
    const step = await session.profileDecode(token);
    if (!step) {
      // No timestamp queries on this adapter: the wall time of whole decode steps instead.
      const t = performance.now();
      for (let j = i; j < options.steps; j++) token = await session.decode(token);
      return [{
        name: "decode step (wall clock)",
        ms: (performance.now() - t) / (options.steps - i),
      }];
    }
    token = step.token;
    steps.push(step.ms);
  }
  return meanKernelTimes(steps);
}

/**
 * The mean GPU milliseconds per step name over timed steps.
 *
 * @param steps each step's milliseconds by step name
 * @returns one time per name, in the order names first appear
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { meanKernelTimes } from "./speed.ts";
 * const steps = [new Map([["attention", 2]]), new Map([["attention", 4]])];
 * assert.deepEqual(meanKernelTimes(steps), [{ name: "attention", ms: 3 }]);
 * ```
 */
export function meanKernelTimes(steps: readonly ReadonlyMap<string, number>[]): KernelTime[] {
  const total = new Map<string, number>();
  for (const step of steps) {
    for (const [name, ms] of step) total.set(name, (total.get(name) ?? 0) + ms);
  }
  return [...total].map(([name, ms]) => ({ name, ms: ms / steps.length }));
}

/** The untimed depth prompt (BOS alone at depth 0 of a generation test) and the timed prompt. */
function testTokens(
  session: Session,
  test: SpeedTest,
  seed: number,
): { depth: number[]; timed: number[] } {
  const { bos, ...base } = promptVocabulary(session.tokenizer, session.hparams.nVocab);
  const depth = test.depth > 0
    ? syntheticTokens(test.depth, { ...base, bos, seed })
    : test.nGen > 0
    ? [bos]
    : [];
  const timed = syntheticTokens(test.nPrompt, {
    ...base,
    bos: depth.length === 0 ? bos : undefined,
    seed: seed + 1,
  });
  return { depth, timed };
}

async function timePrompt(
  session: Session,
  depth: readonly number[],
  timed: readonly number[],
): Promise<number> {
  if (depth.length > 0) await session.prefill(depth);
  const t0 = performance.now();
  await session.prefill(timed);
  return performance.now() - t0;
}

async function timeGeneration(
  session: Session,
  depth: readonly number[],
  nGen: number,
): Promise<number> {
  let t0 = 0;
  let last = 0;
  let count = 0;
  // The first token comes from the (untimed) prefill; the next nGen are decode steps.
  for await (const _ of session.generate(depth, nGen + 1)) {
    last = performance.now();
    if (count === 0) t0 = last;
    count++;
  }
  if (count !== nGen + 1) {
    throw new LimitError(
      `Cannot time tg${nGen}: the context of ${session.nCtx} ended after ${count - 1} tokens`,
    );
  }
  return last - t0;
}
