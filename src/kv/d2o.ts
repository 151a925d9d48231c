/**
 * The `d2o` policy (Wan et al., ICLR 2025; docs/method.md §3–§6, §9):
 *
 * - **Plan.** The layer statistic `F^ℓ` from the prefill column-sum variances,
 *   shares `α = L·softmax(−F)`. Exact-budget mode (default): every layer not
 *   skipped is compressed and the budgets are water-filled within
 *   `[min(kvMin, capacity), hi]` so `Σ C_ℓ = round(n·B)` exactly (`B = ρ·T'` or the
 *   token count, `n` compressed layers), i.e. the real memory is the nominal
 *   budget (+1 free slot per layer). Code allocation (`--kv-alloc code`, the
 *   reference code's): `ρ_ℓ = clamp(α_ℓ·ρ, 0.01, 1)`, `N = ⌊T'·ρ_ℓ·(1−r)⌋`,
 *   `M = ⌊T'·ρ_ℓ·r⌋`, no renormalisation (the `kvMin` floor still applies;
 *   `--parity` sets it to 1 and skips {0, 1, L−1} unless `--skip-layers` is given).
 *   Before a prompt has run (`--kv-memory`), a sequence is charged the uniform
 *   plan of the same total.
 * - **Selection.** The shared rule: sinks and the window kept, lowest
 *   accumulated attention evicted, per KV head (scores summed over the group).
 * - **Compensation** (`spec.merge`). Each evicted token merges into its
 *   nearest kept key when its cosine similarity passes the layer threshold τ,
 *   an EMA with weight β of each event's mean best similarity; per (head,
 *   token) by default, or for all heads at once when the head mean passes
 *   (`--merge-decision head-mean`). A merge rewrites K and V, or V only
 *   (`--merge-parts values`). τ is per layer and belongs to the cache, which
 *   resets it per sequence. The kernels merge from the spec; the CPU twin is
 *   `src/reference/kv/similarity_merge.ts`.
 *
 * d2o's own flags (`--d2o-beta`, `--merge-rule`, `--merge-self-logit`,
 * `--d2o-stat`, `--merge-decision`, `--merge-parts`) are declared here; their
 * values land in `KvOptions.params` ({@linkcode d2oSettings} reads them).
 *
 * @module
 */

import {
  budgetBounds,
  clamp,
  codeLayerBudget,
  fullLayer,
  skipLayerSet,
  splitBudget,
  uniformPlan,
  waterFill,
} from "./budget.ts";
import { numberFlag, oneOf } from "./flag_values.ts";
import { layerShares, layerStatistic } from "./layer_statistic.ts";
import type {
  KvOptions,
  LayerStatisticMode,
  MergeDecision,
  MergeParts,
  MergeRule,
} from "./option_types.ts";
import type {
  KvFlag,
  KvGpuSpec,
  KvPlan,
  KvPolicyEntry,
  KvShape,
  LayerBudget,
  PlanStats,
} from "./policy.ts";
import { baseSpec, PolicyBase } from "./policy_base.ts";

/** Smallest per-layer fraction in parity mode (the reference code's clamp). */
const PARITY_RHO_MIN = 0.01;

/** d2o's own flags. */
export const D2O_FLAGS: readonly KvFlag[] = [
  {
    flag: "--d2o-beta <x>",
    key: "d2oBeta",
    help: "EMA weight of the new value in the d2o merge threshold",
    default: 0.7,
    parse: (v) => numberFlag("--d2o-beta", v, 0, 1),
  },
  {
    flag: "--merge-rule <rule>",
    key: "mergeRule",
    help: "d2o merge weights: paper or code",
    default: "paper",
    parse: (v) => oneOf("--merge-rule", String(v), ["paper", "code"]),
  },
  {
    flag: "--merge-self-logit <x>",
    key: "mergeSelfLogit",
    help: "logit of the merge target's own weight (1: weight e)",
    default: 1,
    parse: (v) => numberFlag("--merge-self-logit", v, -20, 20),
  },
  {
    flag: "--d2o-stat <mode>",
    key: "d2oStat",
    help: "d2o layer statistic: head-minmax or raw",
    default: "head-minmax",
    parse: (v) => oneOf("--d2o-stat", String(v), ["head-minmax", "raw"]),
  },
  {
    flag: "--merge-decision <mode>",
    key: "mergeDecision",
    help: "d2o: merge per evicted token (token) or when the head mean passes (head-mean)",
    default: "token",
    parse: (v) => oneOf("--merge-decision", String(v), ["token", "head-mean"]),
  },
  {
    flag: "--merge-parts <parts>",
    key: "mergeParts",
    help: "d2o merges rewrite kv or values only",
    default: "kv",
    parse: (v) => oneOf("--merge-parts", String(v), ["kv", "values"]),
  },
];

/** d2o's own settings, typed: the values of {@linkcode D2O_FLAGS}. */
export interface D2oSettings {
  /** EMA weight of the new observation in the merge threshold, in [0, 1] (`--d2o-beta`). */
  readonly beta: number;
  /** Merge weights (`--merge-rule`). */
  readonly mergeRule: MergeRule;
  /** Logit of the target's own term in the paper weights; 1 gives weight `e` (`--merge-self-logit`). */
  readonly mergeSelfLogit: number;
  /** The layer statistic (`--d2o-stat`). */
  readonly layerStatistic: LayerStatisticMode;
  /** Merge decision granularity (`--merge-decision`). */
  readonly mergeDecision: MergeDecision;
  /** What a merge rewrites (`--merge-parts`). */
  readonly mergeParts: MergeParts;
}

/**
 * d2o's settings from validated options (a flag missing from `params` takes its default).
 *
 * @param options validated KV options naming d2o
 * @returns the settings
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { d2oSettings } from "./d2o.ts";
 * import { resolveKvOptions } from "./options.ts";
 * assert.deepEqual(d2oSettings(resolveKvOptions({ kv: "d2o" })), {
 *   beta: 0.7,
 *   mergeRule: "paper",
 *   mergeSelfLogit: 1,
 *   layerStatistic: "head-minmax",
 *   mergeDecision: "token",
 *   mergeParts: "kv",
 * });
 * assert.equal(d2oSettings(resolveKvOptions({ parity: true })).mergeRule, "code"); // the authors' code
 * ```
 */
export function d2oSettings(options: KvOptions): D2oSettings {
  const value = (key: string) =>
    options.params?.[key] ?? D2O_FLAGS.find((f) => f.key === key)!.default;
  return {
    beta: Number(value("d2oBeta")),
    mergeRule: value("mergeRule") as MergeRule,
    mergeSelfLogit: Number(value("mergeSelfLogit")),
    layerStatistic: value("d2oStat") as LayerStatisticMode,
    mergeDecision: value("mergeDecision") as MergeDecision,
    mergeParts: value("mergeParts") as MergeParts,
  };
}

/** Layer budgets by attention variance, per-head eviction, merging by key similarity. */
export class D2oPolicy extends PolicyBase {
  /** Policy name. */
  readonly name = "d2o";

  /** Scores as h2o; the plan reads the head variances; evicted tokens merge. */
  get spec(): KvGpuSpec {
    const d = d2oSettings(this.options);
    return baseSpec({
      score: "attention",
      headVariance: true,
      merge: {
        rule: d.mergeRule,
        selfLogit: d.mergeSelfLogit,
        beta: d.beta,
        parity: d.mergeDecision === "head-mean",
        valuesOnly: d.mergeParts === "values",
      },
    });
  }

  /**
   * Plans per-layer budgets from the prefill statistics.
   *
   * @param shape model shape
   * @param stats prompt length, capacity and `headVariance`
   * @returns the plan with `statistic` (F) and `share` (α)
   * @throws {RangeError} when `headVariance` does not have one entry per layer
   * @throws {UsageError} when a skipped layer does not exist
   * @example Two layers: the diffuse one (F = 0) gets more
   * ```ts
   * import assert from "node:assert/strict";
   * import { D2oPolicy } from "./d2o.ts";
   * import { resolveKvOptions } from "./options.ts";
   * const p = new D2oPolicy(resolveKvOptions({ kvBudget: 0.5, kvMin: 1 }));
   * const plan = p.plan({ nLayer: 2, nHead: 2, nHeadKv: 1, headDim: 8 }, {
   *   promptLength: 100, capacity: 200, headVariance: [[1, 1], [0, 1]],
   * });
   * // F = [0, ≈0.5]; α = 2·softmax(−F) ≈ [1.245, 0.755]; 100 slots water-filled: 62.25 and 37.75
   * assert.deepEqual(plan.layers.map((l) => l.slots), [62, 38]);
   * assert.equal(plan.nominalSlots, 100);
   * ```
   */
  plan(shape: KvShape, stats: PlanStats): KvPlan {
    const variance = stats.headVariance;
    if (variance === undefined || variance.length !== shape.nLayer) {
      throw new RangeError(
        `Cannot plan d2o budgets: expected head variances for ${shape.nLayer} layers, got ${
          variance?.length ?? "none"
        }`,
      );
    }
    const statistic = layerStatistic(variance, d2oSettings(this.options).layerStatistic);
    const share = layerShares(statistic);
    const skip = skipLayerSet(this.options, shape.nLayer, this.#skipped(shape.nLayer));
    const compressed = [...share.keys()].filter((l) => !skip.has(l));
    const { base, lo, hi } = budgetBounds(this.options, stats);
    const n = compressed.length;
    const nominalSlots = clamp(Math.round(n * base), n * lo, n * hi);
    const layers: LayerBudget[] = Array.from(
      { length: shape.nLayer },
      () => fullLayer(stats.capacity),
    );
    if (this.options.allocation === "code") {
      const rho = base / stats.promptLength;
      for (const l of compressed) {
        const rhoL = clamp(share[l]! * rho, PARITY_RHO_MIN, 1);
        layers[l] = codeLayerBudget(this.options, stats.promptLength, rhoL, lo, hi);
      }
    } else if (n > 0) {
      const slots = waterFill(compressed.map((l) => share[l]!), nominalSlots, lo, hi);
      compressed.forEach((l, i) => {
        layers[l] = splitBudget(slots[i]!, this.options.recentRatio, this.options.sinks);
      });
    }
    return { layers, statistic, share, nominalSlots };
  }

  /**
   * Charges a sequence before its prompt runs the uniform plan of the same
   * total (the head variances are not known yet).
   *
   * @param shape model shape
   * @param stats prompt length and capacity
   * @returns the uniform plan
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { D2oPolicy } from "./d2o.ts";
   * import { resolveKvOptions } from "./options.ts";
   * const p = new D2oPolicy(resolveKvOptions({ kvBudget: 0.5, kvMin: 1 }));
   * const plan = p.estimatePlan({ nLayer: 2, nHead: 2, nHeadKv: 1, headDim: 8 }, { promptLength: 100, capacity: 200 });
   * assert.deepEqual(plan.layers.map((l) => l.slots), [50, 50]); // the same 100 slots, uniform
   * ```
   */
  override estimatePlan(shape: KvShape, stats: PlanStats): KvPlan {
    const skipped = this.#skipped(shape.nLayer);
    return uniformPlan(this.options, shape, stats, this.options.recentRatio, skipped);
  }

  /** The layers kept full when `--skip-layers` is not given: {0, 1, L−1} in parity mode. */
  #skipped(nLayer: number): number[] {
    return this.options.parity ? [0, 1, nLayer - 1] : [];
  }
}

/** The registry row of `d2o`. */
export const D2O: KvPolicyEntry = {
  name: "d2o",
  summary: "D2O: layer budgets by attention variance, eviction with similarity merging",
  defaults: { sinks: 4, recentRatio: 0.25 },
  flags: D2O_FLAGS,
  // The authors' shipped configuration (AIoT-MLSys-Lab/D2O at 12c99d8; its scripts'
  // hh_ratio = recent_ratio = 0.1, α = β = 0.5): 1:1, the code's floors of T'·ρ_ℓ·r,
  // β 0.5, the code merge rule and head-mean decision, selection per repeated query
  // head, compression at the first decode step (and layers 0, 1, L−1 full: `plan`).
  parity: {
    options: {
      kvMin: 1,
      allocation: "code",
      recentRatio: 0.5,
      selectPer: "query-head",
      compressAt: "first-decode",
    },
    params: { d2oBeta: 0.5, mergeRule: "code", mergeDecision: "head-mean" },
  },
  describe: (o: KvOptions) => {
    const d = d2oSettings(o);
    return [
      `recent ratio ${o.recentRatio}`,
      `β ${d.beta}`,
      `${d.mergeRule} merge rule`,
      `${d.layerStatistic} statistic`,
      `${d.mergeDecision} merge decision`,
      ...(d.mergeParts === "values" ? ["values-only merge"] : []),
      ...(o.allocation === "code" ? ["code allocation"] : []),
    ];
  },
  create: (options: KvOptions) => new D2oPolicy(options),
};
