/**
 * Measures of agreement between two sources of next-token logits (d2o's GPU
 * path, d2o's CPU twin, llama.cpp's builds): the worst difference of
 * natural-log probabilities as a share of the row's range, and the
 * full-window perplexity. Shared by the differential tests and
 * `agreement_probe.ts`.
 *
 * @module
 */

/** Natural-log softmax of one row of logits. */
export function logSoftmax(row: Float32Array): Float64Array {
  let max = -Infinity;
  for (const x of row) max = Math.max(max, x);
  let sum = 0;
  for (const x of row) sum += Math.exp(x - max);
  const lse = max + Math.log(sum);
  return Float64Array.from(row, (x) => x - lse);
}

/** The log-softmax rows of `(n, nVocab)` logits. */
export function logSoftmaxRows(logits: Float32Array, nVocab: number): Float64Array[] {
  const rows: Float64Array[] = [];
  for (let i = 0; i + nVocab <= logits.length; i += nVocab) {
    rows.push(logSoftmax(logits.subarray(i, i + nVocab)));
  }
  return rows;
}

/**
 * Largest |ours − theirs| over the tokens `theirs` gives a finite value (a
 * non-zero probability), and the range of those values.
 */
export function compareRow(
  ours: ArrayLike<number>,
  theirs: ArrayLike<number>,
): { diff: number; range: number } {
  let diff = 0;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < theirs.length; i++) {
    const t = theirs[i]!;
    if (!Number.isFinite(t)) continue;
    diff = Math.max(diff, Math.abs(ours[i]! - t));
    lo = Math.min(lo, t);
    hi = Math.max(hi, t);
  }
  return { diff, range: hi - lo };
}

/** The worst {@linkcode compareRow} difference over rows, as a share of that row's range. */
export function worstRelative(
  ours: readonly ArrayLike<number>[],
  theirs: readonly ArrayLike<number>[],
): number {
  let worst = 0;
  for (let i = 0; i < theirs.length; i++) {
    const { diff, range } = compareRow(ours[i]!, theirs[i]!);
    worst = Math.max(worst, diff / range);
  }
  return worst;
}

/** exp(mean negative log-likelihood of each next token), from log-probability rows. */
export function perplexityOf(rows: readonly ArrayLike<number>[], ids: readonly number[]): number {
  let nll = 0;
  for (let i = 0; i + 1 < ids.length; i++) nll -= rows[i]![ids[i + 1]!]!;
  return Math.exp(nll / (ids.length - 1));
}
