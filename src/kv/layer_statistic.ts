/**
 * The d2o layer statistic `F^ℓ` and the layer shares `α_ℓ` (docs/method.md
 * §3.1–§3.2, §9 Q1). Inputs are per layer, per query head, the unbiased
 * variance over keys of the prefill column sums.
 *
 * @module
 */

import type { LayerStatisticMode } from "./option_types.ts";

/** Denominator guard of the min-max normalisation, as in the reference code. */
export const MINMAX_EPS = 1e-6;

/**
 * Computes `F^ℓ` in [0, 1] for every layer.
 *
 * - `head-minmax` (reference code): `v̂_h = (v_h − min v)/(max v − min v + 1e-6)`
 *   over the layer's heads, then `F = mean_h v̂_h`.
 * - `raw`: `F = mean_h v_h`, then min-max normalised across layers the same way.
 *
 * @param headVariance per layer, the variance of each query head's column sums
 * @param mode which statistic
 * @returns `F`, one value per layer
 * @throws {RangeError} when a layer has no heads or a variance is not finite
 * @example Two heads with variances 0 and 2: normalised to 0 and ≈1
 * ```ts
 * import assert from "node:assert/strict";
 * import { layerStatistic } from "./layer_statistic.ts";
 * const f = layerStatistic([[0, 2], [3, 3]], "head-minmax");
 * assert.ok(Math.abs(f[0]! - 0.5) < 1e-6); // mean of 0 and 2 / (2 + 1e-6)
 * assert.equal(f[1], 0); // equal heads normalise to 0
 * ```
 */
export function layerStatistic(
  headVariance: readonly ArrayLike<number>[],
  mode: LayerStatisticMode,
): Float64Array {
  const f = new Float64Array(headVariance.length);
  headVariance.forEach((v, l) => {
    if (v.length === 0) {
      throw new RangeError(`Cannot compute the statistic of layer ${l}: no heads`);
    }
    const values = Array.from(v);
    if (!values.every(Number.isFinite)) {
      throw new RangeError(`Cannot compute the statistic of layer ${l}: a variance is not finite`);
    }
    f[l] = mode === "raw" ? mean(values) : mean(minMax(values));
  });
  return mode === "raw" ? Float64Array.from(minMax(Array.from(f))) : f;
}

/**
 * Computes the layer shares `α_ℓ = L·exp(−F^ℓ)/Σ_j exp(−F^j)` (they sum to `L`).
 *
 * @param statistic `F`, one value per layer
 * @returns `α`, one value per layer
 * @example Equal statistics give equal shares
 * ```ts
 * import assert from "node:assert/strict";
 * import { layerShares } from "./layer_statistic.ts";
 * assert.deepEqual([...layerShares(new Float64Array([0.3, 0.3]))], [1, 1]);
 * // F = [0, ln 2]: exp(−F) = [1, 0.5], so α = 2·[1, 0.5]/1.5
 * const [a, b] = layerShares(new Float64Array([0, Math.LN2]));
 * assert.ok(Math.abs(a! - 4 / 3) < 1e-12 && Math.abs(b! - 2 / 3) < 1e-12);
 * ```
 */
export function layerShares(statistic: Float64Array): Float64Array {
  const n = statistic.length;
  const e = statistic.map((f) => Math.exp(-f));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => (n * x) / sum);
}

function minMax(values: number[]): number[] {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  return values.map((v) => (v - lo) / (hi - lo + MINMAX_EPS));
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}
