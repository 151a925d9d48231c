/**
 * Summary statistics of repeated measurements: mean and sample standard
 * deviation (as llama-bench reports t/s), median and 90th percentile.
 *
 * @module
 */

/** Mean and sample standard deviation of a list of values. */
export interface MeanStd {
  /** Arithmetic mean. */
  readonly mean: number;
  /** Sample standard deviation (n − 1 in the denominator); 0 for one value. */
  readonly std: number;
}

/**
 * Mean and sample standard deviation.
 *
 * @param values at least one value
 * @returns the mean and the sample standard deviation
 * @throws {RangeError} for an empty list
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { meanStd } from "./stats.ts";
 * assert.deepEqual(meanStd([1, 2, 3]), { mean: 2, std: 1 });
 * ```
 */
export function meanStd(values: readonly number[]): MeanStd {
  if (values.length === 0) throw new RangeError("Cannot summarise an empty list of values");
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  if (values.length === 1) return { mean, std: 0 };
  const ss = values.reduce((a, b) => a + (b - mean) ** 2, 0);
  return { mean, std: Math.sqrt(ss / (values.length - 1)) };
}

/**
 * The `q` quantile by linear interpolation between closest ranks
 * (`q = 0.5` is the median, `q = 0.9` the 90th percentile).
 *
 * @param values at least one value
 * @param q quantile in [0, 1]
 * @returns the interpolated quantile
 * @throws {RangeError} for an empty list or `q` outside [0, 1]
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { quantile } from "./stats.ts";
 * assert.equal(quantile([4, 1, 3, 2], 0.5), 2.5);
 * ```
 */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) throw new RangeError("Cannot take a quantile of an empty list");
  if (!(q >= 0 && q <= 1)) throw new RangeError(`Cannot take quantile ${q}: expected 0 ≤ q ≤ 1`);
  const sorted = [...values].sort((a, b) => a - b);
  const rank = q * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}
