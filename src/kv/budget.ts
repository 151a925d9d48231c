/**
 * Layer budget planning shared by the policies: the base budget and its
 * bounds, the split of a layer budget into heavy hitters and a recent window,
 * the skip set, uniform plans (streaming, h2o) and the exact-budget
 * water-filling d2o uses (docs/method.md §3, §9 Q2).
 *
 * Planning runs once per sequence on the CPU, so it uses f64.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import type { KvOptions } from "./option_types.ts";
import type { KvPlan, KvShape, LayerBudget, PlanStats } from "./policy.ts";

/** The per-layer base budget and the bounds every layer budget stays within. */
export interface BudgetBounds {
  /** Uniform per-layer budget before rounding: `ρ·T'` (fraction) or the token count. */
  readonly base: number;
  /**
   * Smallest layer budget: `max(1, min(kvMin, capacity))` for a fraction, 1
   * for a token count (taken as given). A prompt shorter
   * than the floor is not compressed at all; its layers grow to the floor
   * while generating, and only then evict (`--kv-min`: short prompts are not
   * starved).
   */
  readonly lo: number;
  /** Largest layer budget: `max(T', lo)` for a fraction (`ρ_ℓ ≤ 1`), the capacity for a token count. */
  readonly hi: number;
}

/**
 * Computes the base budget and its bounds.
 *
 * @param options validated KV options
 * @param stats prompt length `T'` and capacity
 * @returns base, lo and hi
 * @throws {RangeError} when the prompt is empty or longer than the capacity
 * @example A 20% budget of a 1000-token prompt
 * ```ts
 * import assert from "node:assert/strict";
 * import { budgetBounds } from "./budget.ts";
 * import { resolveKvOptions } from "./options.ts";
 * const b = budgetBounds(resolveKvOptions({ kvBudget: 0.2 }), { promptLength: 1000, capacity: 2048 });
 * assert.deepEqual(b, { base: 200, lo: 128, hi: 1000 }); // lo: the default --kv-min
 * ```
 */
export function budgetBounds(options: KvOptions, stats: PlanStats): BudgetBounds {
  const { promptLength: t, capacity } = stats;
  if (!Number.isSafeInteger(t) || t < 1 || !Number.isSafeInteger(capacity) || capacity < t) {
    throw new RangeError(
      `Cannot plan KV budgets: prompt length ${t} must be a whole number from 1 to the capacity ${capacity}`,
    );
  }
  const fraction = options.budget.kind === "fraction";
  const base = fraction ? options.budget.value * t : options.budget.value;
  // The floor protects short prompts from a fraction; a token count is taken as given.
  const lo = fraction ? Math.max(1, Math.min(options.kvMin, capacity)) : 1;
  return { base, lo, hi: fraction ? Math.max(t, lo) : capacity };
}

/**
 * Builds a layer budget from its heavy and recent parts; sinks are clipped
 * to the heavy part.
 *
 * @param heavy `N_ℓ` (sinks included)
 * @param recent `M_ℓ`
 * @param sinks requested sinks
 * @returns the compressed layer's budget
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layerBudget } from "./budget.ts";
 * // 4 sinks asked, 3 heavy slots: the sinks are clipped to 3
 * assert.deepEqual(layerBudget(3, 5, 4), { slots: 8, heavy: 3, recent: 5, sinks: 3, compressed: true });
 * ```
 */
export function layerBudget(heavy: number, recent: number, sinks: number): LayerBudget {
  return { slots: heavy + recent, heavy, recent, sinks: Math.min(sinks, heavy), compressed: true };
}

/**
 * Splits a layer budget: `M = ⌊C·r⌋` recent, the rest heavy, with the heavy
 * part at least `min(sinks, C)` so the sinks fit. A `recentRatio` of 1 with
 * sinks gives the streaming split (sinks + window).
 *
 * @param slots `C_ℓ ≥ 1`
 * @param recentRatio share of the recent window in [0, 1]
 * @param sinks requested sinks
 * @returns the layer budget
 * @example Heavy:recent 3:1 with 4 sinks
 * ```ts
 * import assert from "node:assert/strict";
 * import { splitBudget } from "./budget.ts";
 * const b = splitBudget(100, 0.25, 4);
 * assert.deepEqual([b.heavy, b.recent, b.sinks], [75, 25, 4]);
 * // A window of the whole budget still leaves room for the sinks
 * assert.deepEqual([splitBudget(10, 1, 4).heavy, splitBudget(10, 1, 4).recent], [4, 6]);
 * ```
 */
export function splitBudget(slots: number, recentRatio: number, sinks: number): LayerBudget {
  const sinkCount = Math.min(sinks, slots);
  const recent = Math.min(Math.floor(slots * recentRatio + 1e-9), slots - sinkCount);
  return layerBudget(slots - recent, recent, sinks);
}

/**
 * The reference code's layer budget: `N = ⌊T'·ρ_ℓ·(1−r)⌋` heavy (sinks
 * included), `M = ⌊T'·ρ_ℓ·r⌋` recent; a total outside `[lo, hi]` is clamped
 * and split by the ratio.
 *
 * @param options validated KV options (recent ratio, sinks)
 * @param promptLength `T'`
 * @param rhoL the layer's fraction `ρ_ℓ`
 * @param lo smallest budget
 * @param hi largest budget
 * @returns the layer budget
 * @example The authors' 0.1 + 0.1 of 724 tokens
 * ```ts
 * import assert from "node:assert/strict";
 * import { codeLayerBudget } from "./budget.ts";
 * import { resolveKvOptions } from "./options.ts";
 * const o = resolveKvOptions({ kv: "h2o", parity: true }); // recent ratio 0.5, no sinks
 * // 724 · 0.2 = 144.8: ⌊72.4⌋ heavy and ⌊72.4⌋ recent
 * assert.deepEqual(codeLayerBudget(o, 724, 0.2, 1, 724), {
 *   slots: 144,
 *   heavy: 72,
 *   recent: 72,
 *   sinks: 0,
 *   compressed: true,
 * });
 * ```
 */
export function codeLayerBudget(
  options: KvOptions,
  promptLength: number,
  rhoL: number,
  lo: number,
  hi: number,
): LayerBudget {
  const r = options.recentRatio;
  const heavy = Math.floor(promptLength * rhoL * (1 - r) + 1e-9);
  const recent = Math.floor(promptLength * rhoL * r + 1e-9);
  const slots = heavy + recent;
  return slots >= lo && slots <= hi
    ? layerBudget(heavy, recent, options.sinks)
    : splitBudget(clamp(slots, lo, hi), r, options.sinks);
}

/**
 * The budget of a layer that is never compressed: the whole capacity.
 *
 * @param capacity most tokens the sequence will hold
 * @returns an uncompressed layer budget
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fullLayer } from "./budget.ts";
 * assert.deepEqual(fullLayer(64), { slots: 64, heavy: 0, recent: 64, sinks: 0, compressed: false });
 * ```
 */
export function fullLayer(capacity: number): LayerBudget {
  return { slots: capacity, heavy: 0, recent: capacity, sinks: 0, compressed: false };
}

/**
 * Resolves the layers kept full: the explicit `--skip-layers`, or the
 * policy's default (none unless the policy says otherwise: d2o in parity
 * mode keeps {0, 1, L−1}).
 *
 * @param options validated KV options
 * @param nLayer layers in the model
 * @param defaults the layers the policy keeps full when `--skip-layers` is not given
 * @returns the set of skipped layer indices
 * @throws {UsageError} naming `--skip-layers` when an index is past the last layer
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { skipLayerSet } from "./budget.ts";
 * import { resolveKvOptions } from "./options.ts";
 * assert.deepEqual(skipLayerSet(resolveKvOptions({ skipLayers: "3,1" }), 5), new Set([1, 3]));
 * assert.deepEqual(skipLayerSet(resolveKvOptions({}), 5, [0, 4]), new Set([0, 4])); // the policy's default
 * assert.throws(() => skipLayerSet(resolveKvOptions({ skipLayers: "5" }), 5), /--skip-layers/);
 * ```
 */
export function skipLayerSet(
  options: KvOptions,
  nLayer: number,
  defaults: readonly number[] = [],
): Set<number> {
  if (options.skipLayers === null) return new Set(defaults);
  for (const layer of options.skipLayers) {
    if (layer >= nLayer) {
      throw new UsageError(
        `Cannot use --skip-layers "${layer}": the model has ${nLayer} layers (valid 0 to ${
          nLayer - 1
        })`,
      );
    }
  }
  return new Set(options.skipLayers);
}

/**
 * A plan with the same budget `clamp(round(base), lo, hi)` in every
 * compressed layer (streaming, h2o); with `--kv-alloc code` and the options'
 * own split (h2o), the reference code's floors ({@linkcode codeLayerBudget}).
 *
 * @param options validated KV options
 * @param shape model shape
 * @param stats prompt length and capacity
 * @param recentRatio share of the window (1 for streaming: sinks + window)
 * @param skipDefaults the layers kept full when `--skip-layers` is not given
 * @returns the plan
 * @throws {UsageError} when a skipped layer does not exist
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { uniformPlan } from "./budget.ts";
 * import { resolveKvOptions } from "./options.ts";
 * const o = resolveKvOptions({ kv: "h2o", kvBudget: 0.5, kvMin: 1 });
 * const p = uniformPlan(o, { nLayer: 2, nHead: 1, nHeadKv: 1, headDim: 4 }, { promptLength: 10, capacity: 20 }, 0.5);
 * // 0.5 · 10 = 5 slots in each layer: ⌊2.5⌋ recent, 3 heavy
 * assert.deepEqual(p.layers.map((l) => [l.slots, l.heavy, l.recent]), [[5, 3, 2], [5, 3, 2]]);
 * assert.equal(p.nominalSlots, 10);
 * ```
 */
export function uniformPlan(
  options: KvOptions,
  shape: KvShape,
  stats: PlanStats,
  recentRatio: number,
  skipDefaults: readonly number[] = [],
): KvPlan {
  const { base, lo, hi } = budgetBounds(options, stats);
  const skip = skipLayerSet(options, shape.nLayer, skipDefaults);
  const slots = clamp(Math.round(base), lo, hi);
  // The code's floors split heavy and recent (h2o); a sinks + window split (streaming) has no such part.
  const code = options.allocation === "code" && recentRatio === options.recentRatio &&
    recentRatio < 1;
  const compressed = code
    ? codeLayerBudget(options, stats.promptLength, base / stats.promptLength, lo, hi)
    : splitBudget(slots, recentRatio, options.sinks);
  const layers = Array.from(
    { length: shape.nLayer },
    (_, l) => skip.has(l) ? fullLayer(stats.capacity) : compressed,
  );
  return {
    layers,
    statistic: null,
    share: null,
    nominalSlots: compressed.slots * (shape.nLayer - skip.size),
  };
}

/**
 * Distributes exactly `total` slots over layers in proportion to `weights`,
 * each within `[lo, hi]` (water-filling): finds λ with
 * `Σ clamp(λ·w_ℓ, lo, hi) = total`, then rounds by largest remainder (ties to
 * the lower layer index). A larger weight never gets fewer slots.
 *
 * @param weights positive weights, one per layer
 * @param total slots to hand out, within `[n·lo, n·hi]`
 * @param lo smallest budget (integer)
 * @param hi largest budget (integer)
 * @returns integer budgets summing to `total`
 * @throws {RangeError} when the total cannot fit the bounds
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { waterFill } from "./budget.ts";
 * // 3:1 would be 6 and 2; the first layer stops at 5 and the second takes the rest
 * assert.deepEqual([...waterFill([3, 1], 8, 1, 5)], [5, 3]);
 * assert.deepEqual([...waterFill([1, 1], 6, 1, 5)], [3, 3]);
 * assert.throws(() => waterFill([1, 1], 11, 1, 5), RangeError); // more than 2 · 5
 * ```
 */
export function waterFill(
  weights: ArrayLike<number>,
  total: number,
  lo: number,
  hi: number,
): Int32Array {
  const n = weights.length;
  if (!(lo <= hi) || total < n * lo || total > n * hi || !Number.isSafeInteger(total)) {
    throw new RangeError(
      `Cannot distribute ${total} slots over ${n} layers of ${lo} to ${hi} slots each`,
    );
  }
  let wMin = Infinity;
  for (let l = 0; l < n; l++) wMin = Math.min(wMin, weights[l]!);
  const filled = (lambda: number) => {
    const x = new Float64Array(n);
    for (let l = 0; l < n; l++) x[l] = clamp(lambda * weights[l]!, lo, hi);
    return x;
  };
  const sum = (x: Float64Array) => x.reduce((a, b) => a + b, 0);
  let a = 0;
  let b = hi / wMin;
  for (let i = 0; i < 200 && a < b; i++) {
    const mid = (a + b) / 2;
    if (sum(filled(mid)) < total) a = mid;
    else b = mid;
  }
  const x = filled(b);
  const out = new Int32Array(n);
  for (let l = 0; l < n; l++) out[l] = Math.floor(x[l]!);
  let rest = total - out.reduce((s, v) => s + v, 0);
  const byRemainder = [...out.keys()].sort((i, j) =>
    (x[j]! - out[j]!) - (x[i]! - out[i]!) || i - j
  );
  for (const l of byRemainder) {
    if (rest > 0 && out[l]! < hi) {
      out[l]!++;
      rest--;
    }
  }
  for (const l of byRemainder.reverse()) {
    if (rest < 0 && out[l]! > lo) {
      out[l]!--;
      rest++;
    }
  }
  return out;
}

/**
 * Clamps `x` to `[lo, hi]`.
 *
 * @param x value
 * @param lo lower bound
 * @param hi upper bound
 * @returns the clamped value
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { clamp } from "./budget.ts";
 * assert.deepEqual([clamp(7, 0, 5), clamp(-1, 0, 5), clamp(3, 0, 5)], [5, 0, 3]);
 * ```
 */
export function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}
