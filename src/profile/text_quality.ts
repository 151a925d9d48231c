/**
 * The quality protocol of `d2o profile --text`: the first `prefix` tokens of
 * the text are the prompt — prefilled, then compressed by the session's policy
 * exactly as in generation — and the rest is fed one token at a time (teacher
 * forcing) with the policy active. Only the tokens after the prompt are
 * scored: the prefill's last logits predict `tokens[prefix]`, each fed token's
 * logits predict the one after it.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import type { Session } from "../model/session.ts";
import { type MemoryFigures, memorySnapshot } from "./memory.ts";
import { QualityAccumulator, type QualityScore, type ReferenceDistributions } from "./quality.ts";

/** Options of {@linkcode scoreText}. */
export interface ScoreTextOptions {
  /** The full cache's distributions to compare against (absent for the reference run). */
  readonly reference?: ReferenceDistributions;
  /** Keep this run's distributions as the reference. */
  readonly record?: boolean;
}

/** What one scored run gives. */
export interface TextRun {
  /** Perplexity, KL and same-top figures. */
  readonly score: QualityScore;
  /** Memory at the end of the text. */
  readonly memory: MemoryFigures;
  /** This run's distributions when `record` was asked for. */
  readonly reference?: ReferenceDistributions;
}

/**
 * Checks a `--prefix` against a text's length: at least 1 (BOS alone) and
 * leaving at least one token to score.
 *
 * @param prefix prompt tokens, or undefined for half the text
 * @param nTokens the text's token count, BOS included
 * @returns the prefix to use
 * @throws {UsageError} naming `--prefix` and the valid range
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolvePrefix } from "./text_quality.ts";
 * assert.deepEqual([resolvePrefix(undefined, 1449), resolvePrefix(1, 1449)], [724, 1]);
 * ```
 */
export function resolvePrefix(prefix: number | undefined, nTokens: number): number {
  if (nTokens < 2) {
    throw new UsageError(`Cannot score a text of ${nTokens} tokens: expected at least 2`);
  }
  const p = prefix ?? Math.floor(nTokens / 2);
  if (!Number.isInteger(p) || p < 1 || p >= nTokens) {
    throw new UsageError(
      `Cannot use --prefix ${p}: expected 1 to ${nTokens - 1} for a text of ${nTokens} tokens`,
    );
  }
  return p;
}

/**
 * Runs the protocol on a session from an empty cache and scores
 * `tokens.length − prefix` predictions.
 *
 * @param session an open session (reset first)
 * @param tokens the text's tokens, BOS first
 * @param prefix prompt tokens (see {@linkcode resolvePrefix})
 * @param options the reference to compare against, or `record`
 * @returns the figures, the memory at the end and the recorded reference
 * @throws {LimitError} when the text does not fit the session's context
 */
export async function scoreText(
  session: Session,
  tokens: readonly number[],
  prefix: number,
  options: ScoreTextOptions = {},
): Promise<TextRun> {
  const scored = tokens.length - prefix;
  const acc = new QualityAccumulator(session.hparams.nVocab, scored, options);
  session.reset();
  await session.prefill(tokens.slice(0, prefix));
  acc.add(await session.logits(), tokens[prefix]!);
  let next = prefix + 1;
  for await (const logits of session.teacherForce(tokens.slice(prefix, tokens.length - 1))) {
    acc.add(logits, tokens[next++]!);
  }
  return {
    score: acc.score(),
    memory: memorySnapshot(session),
    ...(options.record ? { reference: acc.reference() } : {}),
  };
}
