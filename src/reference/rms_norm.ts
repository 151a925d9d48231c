/**
 * CPU twin of `kernels/rms_norm.wgsl`: RMS normalisation of each row times a
 * weight vector.
 *
 * @module
 */

/**
 * Normalises each of the `x.length / n` rows of `n` values:
 * `y = x / sqrt(mean(x²) + eps) * w`.
 *
 * @param x input rows, row-major (rows × n)
 * @param weight per-column weight (n)
 * @param n row length
 * @param eps added to the mean square
 * @param out optional output (rows × n); may be `x` itself
 * @returns the normalised rows
 * @throws {RangeError} when `x` is not a whole number of rows or `weight` is shorter than `n`
 * @example Normalise two rows
 * ```ts
 * import assert from "node:assert/strict";
 * import { rmsNorm } from "./rms_norm.ts";
 * // row (2, 2) has RMS 2, row (1, -1) RMS 1; then each column times the weight (1, 0.5)
 * const y = rmsNorm(new Float32Array([2, 2, 1, -1]), new Float32Array([1, 0.5]), 2, 0);
 * assert.deepEqual([...y], [1, 0.5, 1, -0.5]);
 * ```
 */
export function rmsNorm(
  x: Float32Array,
  weight: Float32Array,
  n: number,
  eps: number,
  out: Float32Array = new Float32Array(x.length),
): Float32Array {
  if (n <= 0 || x.length % n !== 0) {
    throw new RangeError(`Cannot run rmsNorm: input has ${x.length} values, not rows of ${n}`);
  }
  if (weight.length < n) {
    throw new RangeError(`Cannot run rmsNorm: weight has ${weight.length} values, expected ${n}`);
  }
  const rows = x.length / n;
  for (let r = 0; r < rows; r++) {
    const base = r * n;
    let ss = 0;
    for (let i = 0; i < n; i++) ss += x[base + i]! * x[base + i]!;
    const inv = 1 / Math.sqrt(ss / n + eps);
    for (let i = 0; i < n; i++) out[base + i] = x[base + i]! * inv * weight[i]!;
  }
  return out;
}
