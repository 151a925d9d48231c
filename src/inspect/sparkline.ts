/**
 * A one-line chart of a series with the eight block characters `▁▂▃▄▅▆▇█`.
 *
 * @module
 */

const BLOCKS = "▁▂▃▄▅▆▇█";

/**
 * Draws a series as a sparkline of at most `width` characters, scaled between
 * the series' minimum (`▁`) and maximum (`█`). A longer series is averaged in
 * `width` equal buckets; a flat series is drawn at mid height (`▄`).
 *
 * @param values the series (finite numbers)
 * @param width the most characters to draw (≥ 1)
 * @returns the sparkline; empty for an empty series
 * @throws {RangeError} when `width` is not a whole number ≥ 1
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sparkline } from "./sparkline.ts";
 * assert.equal(sparkline([0, 1, 2, 3, 4, 5, 6, 7], 8), "▁▂▃▄▅▆▇█");
 * assert.equal(sparkline([0, 1, 2, 3, 4, 5, 6, 7], 4), "▁▃▆█"); // pairs averaged
 * assert.equal(sparkline([3, 3], 8), "▄▄"); // flat: mid height
 * ```
 */
export function sparkline(values: readonly number[], width: number): string {
  if (!Number.isSafeInteger(width) || width < 1) {
    throw new RangeError(`Cannot draw a sparkline of width ${width}: expected a whole number ≥ 1`);
  }
  const points = values.length <= width ? [...values] : buckets(values, width);
  const lo = Math.min(...points);
  const hi = Math.max(...points);
  return points.map((v) => {
    if (hi === lo) return BLOCKS[3];
    return BLOCKS[Math.round((v - lo) / (hi - lo) * (BLOCKS.length - 1))];
  }).join("");
}

/** Means of `count` near-equal consecutive slices of `values` (values.length > count). */
function buckets(values: readonly number[], count: number): number[] {
  const out: number[] = [];
  for (let b = 0; b < count; b++) {
    const start = Math.floor(b * values.length / count);
    const end = Math.floor((b + 1) * values.length / count);
    let sum = 0;
    for (let i = start; i < end; i++) sum += values[i]!;
    out.push(sum / (end - start));
  }
  return out;
}
