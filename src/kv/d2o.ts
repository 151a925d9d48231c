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
 * - **Selection.** The scoring base: sinks and the window kept, lowest
 *   accumulated attention evicted, per KV head (scores summed over the group).
 * - **Compensation.** Each evicted token's nearest kept slot by key cosine
 *   (decode: any other occupied slot, the new token included). The layer
 *   threshold τ starts at the mean best similarity of the first compression
 *   and then follows `τ ← (1−β)·τ + β·m̄` with `m̄` the mean over heads (and
 *   evicted tokens) of this event's best similarities; τ is updated first,
 *   then a token merges when `m ≥ τ` — per (head, token) by default (§9 Q7),
 *   or for all heads at once when the head mean passes (`--merge-decision
 *   head-mean`). A merge rewrites K and V, or V only (`--merge-parts values`:
 *   the kept key stays as it is). τ is per
 *   layer and belongs to the cache, which resets it per sequence.
 *
 * f32 order of the threshold: `m̄ = fround(Σ m)/count` with the sum in (head,
 * position) order; `τ = fround(fround(fround(1−β)·τ) + fround(fround(β)·m̄))`.
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
  waterFill,
} from "./budget.ts";
import { layerShares, layerStatistic } from "./layer_statistic.ts";
import type { KvOptions } from "./option_types.ts";
import type {
  CompressDecision,
  KvGpuSpec,
  KvLayerView,
  KvPlan,
  KvPolicyEntry,
  KvShape,
  LayerBudget,
  PlanStats,
  StepDecision,
} from "./policy.ts";
import { ScoringPolicy, scoringSpec } from "./scoring_policy.ts";
import { nearestSlot } from "./similarity.ts";
import { FREE } from "./slot_table.ts";

/** Smallest per-layer fraction in parity mode (the reference code's clamp). */
const PARITY_RHO_MIN = 0.01;

/**
 * One EMA update of the threshold in f32; an unset (NaN) threshold starts at `mean`.
 *
 * @param tau previous threshold, NaN when unset
 * @param mean this event's mean best similarity
 * @param beta weight of the new observation
 * @returns the new threshold
 * @example
 * ```ts
 * import { updateTau } from "./d2o.ts";
 * console.log(updateTau(NaN, 0.5, 0.7), updateTau(0, 1, 0.5)); // 0.5 0.5
 * ```
 */
export function updateTau(tau: number, mean: number, beta: number): number {
  const f = Math.fround;
  if (Number.isNaN(tau)) return f(mean);
  return f(f(f(1 - beta) * tau) + f(f(beta) * mean));
}

/** Layer budgets by attention variance, per-head eviction, merging by key similarity. */
export class D2oPolicy extends ScoringPolicy {
  /** Policy name. */
  readonly name = "d2o";

  /** Scores as h2o; the plan reads the head variances; evicted tokens merge. */
  get spec(): KvGpuSpec {
    const o = this.options;
    return scoringSpec({
      score: "attention",
      headVariance: true,
      merge: {
        rule: o.mergeRule,
        selfLogit: o.mergeSelfLogit,
        beta: o.beta,
        parity: o.mergeDecision === "head-mean",
        valuesOnly: o.mergeParts === "values",
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
   * import { D2oPolicy } from "./d2o.ts";
   * import { resolveKvOptions } from "./options.ts";
   * const p = new D2oPolicy(resolveKvOptions({ kvBudget: 0.5, kvMin: 1 }));
   * const plan = p.plan({ nLayer: 2, nHead: 2, nHeadKv: 1, headDim: 8 }, {
   *   promptLength: 100, capacity: 200, headVariance: [[1, 1], [0, 1]],
   * });
   * console.log(plan.layers.map((l) => l.slots)); // [ 62, 38 ]
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
    const statistic = layerStatistic(variance, this.options.layerStatistic);
    const share = layerShares(statistic);
    const skip = skipLayerSet(this.options, shape.nLayer);
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
   * Finds each evicted token's nearest kept slot, updates τ with the mean best
   * similarity, and merges the tokens at or above τ.
   *
   * @param view the layer before compression
   * @param keep keep flags
   * @returns the decision
   * @throws {RangeError} in parity mode when heads evict different counts
   */
  protected override compensateBulk(view: KvLayerView, keep: Uint8Array): CompressDecision {
    const f = Math.fround;
    const { nHeadKv, nSlots } = view;
    const decision = super.compensateBulk(view, keep);
    const target = new Int32Array(nHeadKv * nSlots).fill(-1);
    const evicted: number[][] = [];
    let sum = 0;
    let count = 0;
    for (let h = 0; h < nHeadKv; h++) {
      const base = h * nSlots;
      const list: number[] = [];
      for (let s = 0; s < nSlots; s++) {
        if (view.pos[base + s] !== FREE && keep[base + s] === 0) list.push(s);
      }
      list.sort((a, b) => view.pos[base + a]! - view.pos[base + b]!);
      for (const e of list) {
        const near = nearestSlot(view, h, e, (c) => keep[base + c] === 1);
        decision.similarity[base + e] = near.similarity;
        target[base + e] = near.slot;
        sum = f(sum + near.similarity);
        count++;
      }
      evicted.push(list);
    }
    if (count === 0) return decision;
    const tau = updateTau(view.tau, f(sum / count), this.options.beta);
    const passes = this.options.mergeDecision === "head-mean"
      ? headMeanPasses(view, evicted, decision.similarity, tau)
      : (h: number, e: number) => decision.similarity[h * nSlots + e]! >= tau;
    evicted.forEach((list, h) => {
      for (const e of list) {
        if (passes(h, e)) decision.mergeTarget[h * nSlots + e] = target[h * nSlots + e]!;
      }
    });
    return { ...decision, tau };
  }

  /**
   * Finds each victim's nearest other occupied slot, updates τ with the head
   * mean, and merges the victims at or above τ.
   *
   * @param view the layer after the step's token and attention were added
   * @param evictSlot victims per head
   * @returns the decision
   * @throws {RangeError} when some heads evict and others do not
   */
  protected override compensateStep(view: KvLayerView, evictSlot: Int32Array): StepDecision {
    const f = Math.fround;
    const { nHeadKv, nSlots } = view;
    const decision = super.compensateStep(view, evictSlot);
    const evicting = evictSlot.filter((s) => s >= 0).length;
    if (evicting === 0) return decision;
    if (evicting !== nHeadKv) {
      throw new RangeError(`Cannot merge: ${evicting} of ${nHeadKv} KV heads evict at this step`);
    }
    const target = new Int32Array(nHeadKv);
    let sum = 0;
    for (let h = 0; h < nHeadKv; h++) {
      const victim = evictSlot[h]!;
      const base = h * nSlots;
      const near = nearestSlot(view, h, victim, (c) => c !== victim && view.pos[base + c] !== FREE);
      decision.similarity[h] = near.similarity;
      target[h] = near.slot;
      sum = f(sum + near.similarity);
    }
    const mean = f(sum / nHeadKv);
    const tau = updateTau(view.tau, mean, this.options.beta);
    for (let h = 0; h < nHeadKv; h++) {
      const passes = this.options.mergeDecision === "head-mean"
        ? mean >= tau
        : decision.similarity[h]! >= tau;
      if (passes) decision.mergeTarget[h] = target[h]!;
    }
    return { ...decision, tau };
  }
}

/** Parity rule: the j-th evicted token of every head merges when the head mean of their similarities passes. */
function headMeanPasses(
  view: KvLayerView,
  evicted: number[][],
  similarity: Float32Array,
  tau: number,
): (h: number, e: number) => boolean {
  const f = Math.fround;
  const { nHeadKv, nSlots } = view;
  const perHead = evicted[0]?.length ?? 0;
  if (evicted.some((list) => list.length !== perHead)) {
    throw new RangeError("Cannot apply the head-mean merge rule: heads evicted different counts");
  }
  const pass = new Uint8Array(perHead);
  for (let j = 0; j < perHead; j++) {
    let sum = 0;
    for (let h = 0; h < nHeadKv; h++) sum = f(sum + similarity[h * nSlots + evicted[h]![j]!]!);
    pass[j] = f(sum / nHeadKv) >= tau ? 1 : 0;
  }
  return (h, e) => pass[evicted[h]!.indexOf(e)] === 1;
}

/** The registry row of `d2o`. */
export const D2O: KvPolicyEntry = {
  name: "d2o",
  summary: "D2O: layer budgets by attention variance, eviction with similarity merging",
  defaults: { sinks: 4, recentRatio: 0.25 },
  flags: [],
  describe: (o: KvOptions) => [
    `recent ratio ${o.recentRatio}`,
    `β ${o.beta}`,
    `${o.mergeRule} merge rule`,
    `${o.layerStatistic} statistic`,
    `${o.mergeDecision} merge decision`,
    ...(o.mergeParts === "values" ? ["values-only merge"] : []),
    ...(o.allocation === "code" ? ["code allocation"] : []),
  ],
  create: (options: KvOptions) => new D2oPolicy(options),
};
