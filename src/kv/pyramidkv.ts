/**
 * The `pyramidkv` policy (Cai et al., 2024, "PyramidKV: Dynamic KV Cache
 * Compression based on Pyramidal Information Funneling"): SnapKV's selection
 * inside each layer (`snapkv.ts`), with per-layer budgets in an arithmetic
 * schedule that gives lower layers more. As in the paper's code, with `C` the
 * uniform budget, `w` the window and `a = C − w` the average selected part:
 * `min = ⌊a/β⌋`, `max = 2a − min` (when `max ≥ T' − w`: `max = T' − w`,
 * `min = 2a − max`), `step = ⌊(max − min)/(n − 1)⌋` over the `n` compressed
 * layers, and layer `i` keeps `max − i·step` selected keys plus the window
 * (`--pyramid-beta`, default 20). A prompt within the uniform budget is not
 * compressed.
 *
 * @module
 */

import { numberFlag } from "./flag_values.ts";
import type { KvOptions } from "./option_types.ts";
import type { KvFlag, KvGpuSpec, KvPlan, KvPolicyEntry, KvShape, PlanStats } from "./policy.ts";
import { PolicyBase } from "./policy_base.ts";
import { describeSnap, SNAP_FLAGS, snapPlan, snapSpec } from "./snapkv.ts";

/** PyramidKV's own flag. */
const PYRAMID_BETA: KvFlag = {
  flag: "--pyramid-beta <x>",
  key: "pyramidBeta",
  help: "pyramidkv: ratio of the largest to the smallest layer's selected keys, about (2β − 1)",
  default: 20,
  parse: (v) => numberFlag("--pyramid-beta", v, 1, 1000),
};

/**
 * The selected keys (beyond the window) of the i-th of `n` compressed layers.
 *
 * @param i layer index among the compressed layers (0 = lowest)
 * @param n compressed layers
 * @param average `a = C − w`: the average selected part
 * @param candidates `T' − w`: keys the window can select from
 * @param beta `--pyramid-beta`
 * @returns selected keys of the layer
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pyramidSelected } from "./pyramidkv.ts";
 * // min = ⌊258/20⌋ = 12, max = 2·258 − 12 = 504, step = ⌊492/4⌋ = 123
 * assert.deepEqual([0, 1, 2, 3, 4].map((i) => pyramidSelected(i, 5, 258, 1417, 20)), [504, 381, 258, 135, 12]);
 * // max = 190 ≥ 150 candidates: max = 150, min = 2·100 − 150 = 50, step 50
 * assert.deepEqual([0, 1, 2].map((i) => pyramidSelected(i, 3, 100, 150, 10)), [150, 100, 50]);
 * ```
 */
export function pyramidSelected(
  i: number,
  n: number,
  average: number,
  candidates: number,
  beta: number,
): number {
  let min = Math.floor(average / beta);
  let max = 2 * average - min;
  if (max >= candidates) {
    max = candidates;
    min = 2 * average - max;
  }
  const step = n > 1 ? Math.floor((max - min) / (n - 1)) : 0;
  return Math.max(0, max - i * step);
}

/** SnapKV's selection with a pyramid of layer budgets. */
export class PyramidKvPolicy extends PolicyBase {
  /** Policy name. */
  readonly name: string = "pyramidkv";

  /** SnapKV's spec. */
  get spec(): KvGpuSpec {
    return snapSpec(this.options);
  }

  /**
   * Plans the pyramid of budgets.
   *
   * @param shape model shape
   * @param stats prompt length and capacity
   * @returns the plan
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { PyramidKvPolicy } from "./pyramidkv.ts";
   * import { resolveKvOptions } from "./options.ts";
   * const p = new PyramidKvPolicy(resolveKvOptions({ kv: "pyramidkv", kvBudget: 0.2 }));
   * const plan = p.plan({ nLayer: 5, nHead: 8, nHeadKv: 4, headDim: 8 }, { promptLength: 1449, capacity: 1500 });
   * // C = round(0.2 · 1449) = 290, window 32: 32 + [504, 381, 258, 135, 12] (pyramidSelected's example)
   * assert.deepEqual(plan.layers.map((l) => l.slots), [536, 413, 290, 167, 44]);
   * assert.equal(plan.nominalSlots, 5 * 290); // the same total as a uniform plan
   * ```
   */
  plan(shape: KvShape, stats: PlanStats): KvPlan {
    const { window } = snapSpec(this.options);
    const beta = Number(this.options.params?.["pyramidBeta"] ?? 20);
    const t = stats.promptLength;
    return snapPlan(this.options, shape, stats, (i, n, uniform) => {
      if (uniform >= t || uniform <= window) return uniform;
      return window + pyramidSelected(i, n, uniform - window, t - window, beta);
    });
  }
}

/** The registry row of `pyramidkv`. */
export const PYRAMIDKV: KvPolicyEntry = {
  name: "pyramidkv",
  summary: "PyramidKV: SnapKV's selection, more budget in lower layers (arithmetic schedule)",
  defaults: { sinks: 0, recentRatio: 0 },
  flags: [...SNAP_FLAGS, PYRAMID_BETA],
  parity: { options: { kvMin: 1 } },
  describe: (o: KvOptions) => [...describeSnap(o), `β ${o.params?.["pyramidBeta"] ?? 20}`],
  create: (options: KvOptions) => new PyramidKvPolicy(options),
};
