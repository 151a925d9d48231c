/**
 * Quality of a compressed cache against the full one, from next-token
 * logits: perplexity of the text, mean KL divergence `KL(full ‖ policy)` of
 * the next-token distributions, and how often both pick the same top token.
 * All sums run in float64 with max-shifted log-sum-exp.
 *
 * @module
 */

/** The full cache's next-token distributions, one row per scored position. */
export interface ReferenceDistributions {
  /** (scored, n_vocab) log-probabilities, row-major. */
  readonly logProbs: Float32Array;
  /** The top token of each row. */
  readonly top: Int32Array;
}

/** Quality figures of one run over the scored tokens. */
export interface QualityScore {
  /** Number of scored predictions. */
  readonly scored: number;
  /** Mean negative log-likelihood of the actual next tokens (nats). */
  readonly meanNll: number;
  /** `exp(meanNll)`. */
  readonly perplexity: number;
  /** Mean `KL(full ‖ this)` in nats; 0 for the reference run itself. */
  readonly meanKl: number;
  /** Share of positions where the top token equals the full cache's, in [0, 1]. */
  readonly sameTop: number;
}

/**
 * Accumulates quality figures one scored position at a time; with
 * `record`, it also keeps the rows as the reference for other runs.
 *
 * @example Two equally likely tokens give perplexity 2
 * ```ts
 * import assert from "node:assert/strict";
 * import { QualityAccumulator } from "./quality.ts";
 * const acc = new QualityAccumulator(2, 2, { record: true });
 * acc.add(new Float32Array([0, 0]), 1);
 * acc.add(new Float32Array([3, 3]), 0);
 * assert.ok(Math.abs(acc.score().perplexity - 2) < 1e-12);
 * ```
 */
export class QualityAccumulator {
  readonly #nVocab: number;
  readonly #capacity: number;
  readonly #reference: ReferenceDistributions | undefined;
  readonly #recorded: ReferenceDistributions | undefined;
  readonly #lp: Float64Array;
  #count = 0;
  #nll = 0;
  #kl = 0;
  #same = 0;

  /**
   * @param nVocab vocabulary size (row length)
   * @param capacity number of positions that will be added
   * @param options `reference` to compare against; `record` to keep the rows
   */
  constructor(
    nVocab: number,
    capacity: number,
    options: { reference?: ReferenceDistributions; record?: boolean } = {},
  ) {
    this.#nVocab = nVocab;
    this.#capacity = capacity;
    this.#reference = options.reference;
    if (options.reference && options.reference.top.length !== capacity) {
      throw new RangeError(
        `Cannot compare ${capacity} positions with a reference of ${options.reference.top.length}`,
      );
    }
    this.#recorded = options.record
      ? { logProbs: new Float32Array(capacity * nVocab), top: new Int32Array(capacity) }
      : undefined;
    this.#lp = new Float64Array(nVocab);
  }

  /**
   * Scores one position.
   *
   * @param logits (n_vocab) next-token logits
   * @param target the actual next token
   * @throws {RangeError} past the capacity or for a row of the wrong length
   */
  add(logits: Float32Array, target: number): void {
    const V = this.#nVocab;
    const i = this.#count;
    if (i >= this.#capacity) throw new RangeError(`Cannot add position ${i}: the capacity is ${i}`);
    if (logits.length !== V) {
      throw new RangeError(`Cannot score logits of length ${logits.length}: expected ${V}`);
    }
    let max = -Infinity;
    let top = 0;
    for (let v = 0; v < V; v++) {
      if (logits[v]! > max) {
        max = logits[v]!;
        top = v;
      }
    }
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(logits[v]! - max);
    const lse = max + Math.log(sum);
    const lp = this.#lp; // (n_vocab)
    for (let v = 0; v < V; v++) lp[v] = logits[v]! - lse;
    this.#nll -= lp[target]!;
    if (this.#reference) {
      const ref = this.#reference.logProbs.subarray(i * V, (i + 1) * V);
      let kl = 0;
      for (let v = 0; v < V; v++) kl += Math.exp(ref[v]!) * (ref[v]! - lp[v]!);
      this.#kl += Math.max(0, kl);
      if (top === this.#reference.top[i]) this.#same++;
    }
    if (this.#recorded) {
      this.#recorded.logProbs.set(lp, i * V);
      this.#recorded.top[i] = top;
    }
    this.#count++;
  }

  /** The figures so far (KL 0 and same-top 1 without a reference). */
  score(): QualityScore {
    const n = this.#count;
    const meanNll = this.#nll / n;
    return {
      scored: n,
      meanNll,
      perplexity: Math.exp(meanNll),
      meanKl: this.#reference ? this.#kl / n : 0,
      sameTop: this.#reference ? this.#same / n : 1,
    };
  }

  /**
   * The recorded rows, to compare other runs against.
   *
   * @throws {Error} when built without `record` or not filled
   */
  reference(): ReferenceDistributions {
    if (!this.#recorded) throw new Error("Cannot give a reference: built without record");
    if (this.#count !== this.#capacity) {
      throw new Error(`Cannot give a reference of ${this.#count} of ${this.#capacity} positions`);
    }
    return this.#recorded;
  }
}
