/**
 * The `snapkv` policy (Li et al., 2024, "SnapKV: LLM Knows What You are
 * Looking for Before Generation"): at the end of prefill, an observation
 * window of the last `w` prompt tokens (`--snap-window`, default 32) scores
 * every earlier key by the attention it gets from the window, summed over the
 * window's queries and the KV head's query group; the scores are smoothed by
 * a 1-D max pool over positions (`--snap-pool`, default 7, clipped at the
 * ends of the scored range), and per KV head the best keys are kept within
 * the layer budget, plus the window itself. Evicted tokens are dropped.
 *
 * While decoding nothing is evicted: the cache grows from the compressed
 * prompt (`--kv-decode grow`, the paper's and kvpress's mode); with
 * `--kv-decode evict` it follows H2O's rule from there (the window part of
 * the budget becomes the recent window, the pooled scores accumulate
 * attention).
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import { budgetBounds, clamp, fullLayer, layerBudget, skipLayerSet } from "./budget.ts";
import { integerFlag, oneOf } from "./flag_values.ts";
import type { KvOptions } from "./option_types.ts";
import type {
  KvDecodeMode,
  KvFlag,
  KvGpuSpec,
  KvPlan,
  KvPolicyEntry,
  KvShape,
  LayerBudget,
  PlanStats,
} from "./policy.ts";
import { baseSpec, PolicyBase } from "./policy_base.ts";

/** The flags of SnapKV's selection (PyramidKV shares them). */
export const SNAP_FLAGS: readonly KvFlag[] = [
  {
    flag: "--snap-window <n>",
    key: "snapWindow",
    help:
      "snapkv/pyramidkv observation window: the last prompt tokens whose attention scores the rest",
    default: 32,
    parse: (v) => integerFlag("--snap-window", v, 1),
  },
  {
    flag: "--snap-pool <n>",
    key: "snapPool",
    help: "snapkv/pyramidkv: width of the max pool over the window's scores (odd; 1 = none)",
    default: 7,
    parse: (v) => {
      const n = integerFlag("--snap-pool", v, 1, 63);
      if (n % 2 === 1) return n;
      throw new UsageError(
        `Cannot use --snap-pool "${v}": expected an odd whole number from 1 to 63`,
      );
    },
  },
  {
    flag: "--kv-decode <mode>",
    key: "kvDecode",
    help: "snapkv/pyramidkv while decoding: grow (no eviction) or evict (H2O's rule)",
    default: "grow",
    parse: (v) => oneOf("--kv-decode", String(v), ["grow", "evict"]),
  },
];

/**
 * SnapKV's spec from validated options: window scores, max pool, no merging.
 *
 * @param options validated KV options of snapkv or pyramidkv
 * @returns the spec
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { snapSpec } from "./snapkv.ts";
 * import { resolveKvOptions } from "./options.ts";
 * assert.deepEqual(snapSpec(resolveKvOptions({ kv: "snapkv" })), {
 *   score: "window",
 *   window: 32,
 *   pool: 7,
 *   headVariance: false,
 *   merge: null,
 *   decode: "grow",
 * });
 * const o = resolveKvOptions({ kv: "snapkv", params: { snapWindow: "16", kvDecode: "evict" } });
 * assert.deepEqual([snapSpec(o).window, snapSpec(o).decode], [16, "evict"]);
 * ```
 */
export function snapSpec(options: KvOptions): KvGpuSpec {
  const params = options.params ?? {};
  return baseSpec({
    score: "window",
    window: Number(params["snapWindow"] ?? 32),
    pool: Number(params["snapPool"] ?? 7),
    decode: (params["kvDecode"] ?? "grow") as KvDecodeMode,
  });
}

/**
 * A layer's SnapKV budget: the window (at most the budget) plus the best keys.
 *
 * @param slots `C_ℓ`
 * @param window observation window `w`
 * @param sinks requested sinks (default 0)
 * @returns the budget
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { snapBudget } from "./snapkv.ts";
 * assert.deepEqual(snapBudget(40, 32, 0), { slots: 40, heavy: 8, recent: 32, sinks: 0, compressed: true });
 * // A budget smaller than the window is all window
 * assert.deepEqual(snapBudget(20, 32, 0), { slots: 20, heavy: 0, recent: 20, sinks: 0, compressed: true });
 * ```
 */
export function snapBudget(slots: number, window: number, sinks: number): LayerBudget {
  const recent = Math.min(window, slots);
  return layerBudget(slots - recent, recent, sinks);
}

/**
 * Plans SnapKV's budgets: `slotsOf(i, n, C)` slots for the i-th of the `n`
 * compressed layers (uniform `C` for SnapKV), skipped layers full.
 *
 * @param options validated KV options
 * @param shape model shape
 * @param stats prompt length and capacity
 * @param slotsOf per compressed layer, its slot count given the uniform `C`
 * @returns the plan
 */
export function snapPlan(
  options: KvOptions,
  shape: KvShape,
  stats: PlanStats,
  slotsOf: (i: number, n: number, uniform: number) => number = (_i, _n, c) => c,
): KvPlan {
  const { base, lo, hi } = budgetBounds(options, stats);
  const skip = skipLayerSet(options, shape.nLayer);
  const uniform = clamp(Math.round(base), lo, hi);
  const window = snapSpec(options).window;
  const n = shape.nLayer - skip.size;
  let i = 0;
  const layers = Array.from({ length: shape.nLayer }, (_, l) => {
    if (skip.has(l)) return fullLayer(stats.capacity);
    return snapBudget(clamp(slotsOf(i++, n, uniform), 1, hi), window, options.sinks);
  });
  return { layers, statistic: null, share: null, nominalSlots: uniform * n };
}

/**
 * SnapKV's settings for a one-line description.
 *
 * @param options validated KV options of snapkv or pyramidkv
 * @returns window, pool and decode mode
 */
export function describeSnap(options: KvOptions): string[] {
  const spec = snapSpec(options);
  return [`window ${spec.window}`, `max pool ${spec.pool}`, `decode ${spec.decode}`];
}

/** Window-scored top keys at prefill; no eviction while decoding (or H2O's with `--kv-decode evict`). */
export class SnapKvPolicy extends PolicyBase {
  /** Policy name. */
  readonly name: string = "snapkv";

  /** Window scores, max pool, the decode mode of `--kv-decode`. */
  get spec(): KvGpuSpec {
    return snapSpec(this.options);
  }

  /**
   * Plans a uniform budget per layer: the window plus the best keys.
   *
   * @param shape model shape
   * @param stats prompt length and capacity
   * @returns the plan
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { SnapKvPolicy } from "./snapkv.ts";
   * import { resolveKvOptions } from "./options.ts";
   * const p = new SnapKvPolicy(resolveKvOptions({ kv: "snapkv", kvBudget: 40 }));
   * const plan = p.plan({ nLayer: 1, nHead: 2, nHeadKv: 1, headDim: 8 }, { promptLength: 100, capacity: 200 });
   * // 40 slots: the 32-query window and the 8 keys it attends to most
   * assert.deepEqual(plan.layers[0], { slots: 40, heavy: 8, recent: 32, sinks: 0, compressed: true });
   * ```
   */
  plan(shape: KvShape, stats: PlanStats): KvPlan {
    return snapPlan(this.options, shape, stats);
  }
}

/** The registry row of `snapkv`. */
export const SNAPKV: KvPolicyEntry = {
  name: "snapkv",
  summary: "SnapKV: once at prefill, the keys an observation window attends to (max-pooled)",
  defaults: { sinks: 0, recentRatio: 0 },
  flags: SNAP_FLAGS,
  parity: { options: { kvMin: 1 } },
  describe: describeSnap,
  create: (options: KvOptions) => new SnapKvPolicy(options),
};
