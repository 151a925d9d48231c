/**
 * Perplexity of a token sequence from next-token logits: the mean negative
 * log-likelihood of each token given the ones before it, and its exponential.
 *
 * @module
 */

/** The score of a sequence. */
export interface PerplexityResult {
  /** Mean negative log-likelihood (nats) over the scored predictions. */
  readonly meanNll: number;
  /** `exp(meanNll)`. */
  readonly perplexity: number;
  /** Number of scored predictions (`tokens.length − 1`). */
  readonly predictions: number;
}

/**
 * Scores every next-token prediction of a sequence: row `t` of `logits`
 * predicts `tokens[t + 1]`. Sums in float64 with a max-shifted log-sum-exp.
 *
 * @example Two equally likely tokens give perplexity 2
 * ```ts
 * import assert from "node:assert/strict";
 * import { perplexity } from "./perplexity.ts";
 * const result = perplexity(new Float32Array([0, 0]), 2, [0, 1]);
 * assert.equal(result.predictions, 1);
 * assert.ok(Math.abs(result.meanNll - Math.LN2) < 1e-12); // -ln(1/2)
 * assert.ok(Math.abs(result.perplexity - 2) < 1e-12);
 * ```
 *
 * @param logits (n_tokens or n_tokens − 1, n_vocab) logits, row-major
 * @param nVocab vocabulary size
 * @param tokens the sequence (at least 2 tokens)
 * @returns mean NLL, perplexity and the number of predictions
 * @throws {RangeError} if there are too few logits rows or tokens
 */
export function perplexity(
  logits: Float32Array,
  nVocab: number,
  tokens: readonly number[],
): PerplexityResult {
  const predictions = tokens.length - 1;
  if (predictions < 1) {
    throw new RangeError(`Cannot score ${tokens.length} tokens: need at least 2`);
  }
  if (logits.length < predictions * nVocab) {
    throw new RangeError(
      `Cannot score ${predictions} predictions: ${logits.length} logits hold only ${
        Math.floor(logits.length / nVocab)
      } rows of ${nVocab}`,
    );
  }
  let nll = 0;
  for (let t = 0; t < predictions; t++) {
    const row = logits.subarray(t * nVocab, (t + 1) * nVocab); // (n_vocab)
    let max = -Infinity;
    for (const v of row) max = Math.max(max, v);
    let sum = 0;
    for (const v of row) sum += Math.exp(v - max);
    nll += max + Math.log(sum) - row[tokens[t + 1]!]!;
  }
  const meanNll = nll / predictions;
  return { meanNll, perplexity: Math.exp(meanNll), predictions };
}
