/**
 * CPU twin of one layer of the slot-based KV cache under a policy: K and V
 * `[n_kv_heads][n_slots][head_dim]` (keys already rotated), the slot table
 * (position, score), and the layer threshold τ. The GPU `KvStore` executes the
 * same decisions; tests compare the two after every step.
 *
 * Lifecycle of a sequence:
 * 1. `prefill(keys, values, columnSums, T)` — the prompt's K/V and its column
 *    sums summed over each KV head's query group, from which the policy's
 *    score source makes the prompt's scores (`scores.ts` `promptScores`: the
 *    snippet's twin, then the max pool when the spec pools). A compressed layer
 *    whose prompt exceeds `C` is compressed at once (`end_of_prefill`,
 *    docs/method.md §9 Q3): the policy's compression decision (`decide.ts`,
 *    from its spec) is applied —
 *    merges first (each target rewritten from the pre-merge rows), then the
 *    kept rows in ascending position go to slots `0 .. C−1`; slot `C` is free.
 * 2. Per decode token: `append(k, v)` writes into each head's lowest free slot
 *    (with the score source's first score: 0 for attention, or a score of its
 *    stored key), `accumulate(row)` adds the step's attention (f32) when the
 *    score source adds decode attention, and
 *    `evict()` applies the policy's step decision: merge the victim into
 *    its target (if any), then free the victim's slot, which the next token
 *    reuses. `step` runs the three.
 * 3. `reset()` empties the layer and unsets τ for the next sequence.
 *
 * Only `apply` (decode) and the compression inside `prefill` change K/V or
 * evict; they assert that no sink or window token is evicted.
 *
 * Element types (`shape.kvTypes`, keys and values apart, default f32 both):
 * an `f16` K (or V) value is rounded to the nearest half (ties to even) where
 * the GPU stores it: the
 * prompt's staging rows in `prefill` (so the decisions read the stored keys),
 * each appended token, and each merged row after its f32 arithmetic.
 *
 * Slot count: `C + 1` for a compressed layer (one slot receives each new
 * token before the eviction), `C` (the capacity) for an uncompressed one,
 * unless given (a policy that compresses once keeps room to grow:
 * `src/kv/layer_spec.ts` `layerSlots`).
 *
 * @module
 */

import { LimitError } from "../../errors.ts";
import { DEFAULT_KV_TYPES, type KvTypes, roundKv, roundKvInPlace } from "../../gpu/ops/kv_elem.ts";
import type { KvMergeSpec, KvPolicy, LayerBudget } from "../../kv/policy.ts";
import { compressDecision, stepDecision } from "./decide.ts";
import type { CompressDecision, KvLayerView, StepDecision } from "./layer_view.ts";
import { mergeRows } from "./merge_rows.ts";
import { mergeWeights } from "./merge_rule.ts";
import { decodeAddsAttention, promptScores, writtenScore } from "./scores.ts";
import { isProtected } from "./selection.ts";
import { FREE, SlotTable } from "./slot_table.ts";

/** Head layout of one layer's cache. */
export interface KvLayerShape {
  /** KV heads. */
  readonly nHeadKv: number;
  /** Values per head. */
  readonly headDim: number;
  /** Element types of the keys and of the values (default f32 both). */
  readonly kvTypes?: KvTypes;
}

/** One layer's KV cache, slot table and threshold, driven by a policy. */
export class ReferenceKvLayer {
  /** The policy that decides. */
  readonly policy: KvPolicy;
  /** This layer's budget. */
  readonly budget: LayerBudget;
  /** KV heads. */
  readonly nHeadKv: number;
  /** Values per head. */
  readonly headDim: number;
  /** Slots per head: as given, else `C + 1` when compressed, else `C`. */
  readonly nSlots: number;
  /** Element types of K and of V: what every stored key and value is rounded to. */
  readonly kvTypes: KvTypes;
  /** Rotated keys `[nHeadKv][nSlots][headDim]`. */
  readonly keys: Float32Array;
  /** Values `[nHeadKv][nSlots][headDim]`. */
  readonly values: Float32Array;
  /** Positions and scores. */
  readonly table: SlotTable;
  #tau = NaN;
  #newestPos = -1;

  /**
   * Creates an empty layer.
   *
   * @param policy the deciding policy
   * @param budget this layer's budget from the policy's plan
   * @param shape head layout
   * @param nSlots slots per head (default: `C + 1` when compressed, else `C`)
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ReferenceKvLayer } from "./kv_layer.ts";
   * import { createKvPolicy } from "../../kv/registry.ts";
   * import { resolveKvOptions } from "../../kv/options.ts";
   * const policy = createKvPolicy(resolveKvOptions({ kv: "h2o" }));
   * const layer = new ReferenceKvLayer(policy, { slots: 2, heavy: 1, recent: 1, sinks: 0, compressed: true }, { nHeadKv: 1, headDim: 1 });
   * assert.equal(layer.nSlots, 3); // C + 1
   * for (const x of [1, 2, 3]) layer.step(new Float32Array([x]), new Float32Array([x]), new Float32Array(3).fill(0.5));
   * // Scores 1.5, 1, 0.5 after three steps: position 2 is the window, position 0 the heavy hitter
   * assert.equal(layer.table.occupancy(0), 2);
   * assert.deepEqual([...layer.table.pos], [0, -1, 2]); // position 1's slot is free
   * assert.deepEqual([layer.keys[0], layer.keys[2]], [1, 3]);
   * ```
   */
  constructor(policy: KvPolicy, budget: LayerBudget, shape: KvLayerShape, nSlots?: number) {
    this.policy = policy;
    this.budget = budget;
    this.nHeadKv = shape.nHeadKv;
    this.headDim = shape.headDim;
    this.kvTypes = shape.kvTypes ?? DEFAULT_KV_TYPES;
    this.nSlots = nSlots ?? (budget.compressed ? budget.slots + 1 : budget.slots);
    this.keys = new Float32Array(this.nHeadKv * this.nSlots * this.headDim);
    this.values = new Float32Array(this.nHeadKv * this.nSlots * this.headDim);
    this.table = new SlotTable(this.nHeadKv, this.nSlots);
  }

  /** The layer threshold τ (NaN until the first compression). */
  get tau(): number {
    return this.#tau;
  }

  /** Position of the newest cached token (−1 when empty). */
  get newestPos(): number {
    return this.#newestPos;
  }

  /**
   * @returns a live read-only view for the policy's decisions
   */
  view(): KvLayerView {
    return {
      budget: this.budget,
      nHeadKv: this.nHeadKv,
      headDim: this.headDim,
      nSlots: this.nSlots,
      pos: this.table.pos,
      score: this.table.score,
      keys: this.keys,
      newestPos: this.#newestPos,
      tau: this.#tau,
    };
  }

  /**
   * Caches the prompt and, when it exceeds a compressed layer's budget,
   * compresses it with the policy's decision. The prompt is first stored as
   * the staging cache stores it (rounded to `kvTypes`); the decision and the
   * merges read the stored values.
   *
   * @param keys rotated prompt keys `[nHeadKv][tokens][headDim]`
   * @param values prompt values `[nHeadKv][tokens][headDim]`
   * @param columnSums the prompt's column sums summed over each KV head's query group
   *   `[nHeadKv][tokens]` (`groupColumnSums`; ignored by a score source that reads none)
   * @param tokens prompt length `T ≥ 1`
   * @returns the compression decision (its slots index the prompt), or null when nothing was evicted
   * @throws {RangeError} when the layer is not empty or an array is short
   * @throws {LimitError} when an uncompressed layer cannot hold the prompt
   */
  prefill(
    keys: Float32Array,
    values: Float32Array,
    columnSums: Float32Array,
    tokens: number,
  ): CompressDecision | null {
    const { nHeadKv, headDim } = this;
    if (this.#newestPos !== -1) throw new RangeError("Cannot prefill a layer that is not empty");
    const rows = nHeadKv * tokens;
    if (
      tokens < 1 || keys.length < rows * headDim || values.length < rows * headDim ||
      columnSums.length < rows
    ) {
      throw new RangeError(`Cannot prefill ${tokens} tokens: an input array is too short`);
    }
    keys = roundKv(this.kvTypes.k, keys.subarray(0, rows * headDim));
    values = roundKv(this.kvTypes.v, values.subarray(0, rows * headDim));
    const pos = new Int32Array(rows);
    for (let h = 0; h < nHeadKv; h++) for (let j = 0; j < tokens; j++) pos[h * tokens + j] = j;
    const staging: KvLayerView = {
      budget: this.budget,
      nHeadKv,
      headDim,
      nSlots: tokens,
      pos,
      score: promptScores(this.policy.spec, this.budget, {
        keys,
        columnSums,
        tokens,
        nHeadKv,
        headDim,
      }),
      keys,
      newestPos: tokens - 1,
      tau: this.#tau,
    };
    if (!this.budget.compressed || tokens <= this.budget.slots) {
      if (tokens > this.budget.slots) {
        throw new LimitError(
          `Cannot cache a prompt of ${tokens} tokens: the cache holds ${this.budget.slots}`,
        );
      }
      this.#load(staging, new Uint8Array(rows).fill(1), keys, values);
      return null;
    }
    const decision = compressDecision(this.policy.spec, staging);
    this.#applyCompress(staging, values, decision);
    return decision;
  }

  /**
   * Writes a new token at the next position into each head's lowest free slot,
   * stored as `kvTypes` store them, with the score source's first score of
   * the stored key (`writtenScore`: 0 for the attention sources).
   *
   * @param k rotated key per head `[nHeadKv][headDim]`
   * @param v value per head `[nHeadKv][headDim]`
   * @returns the slot used per head
   * @throws {LimitError} when a head has no free slot (an uncompressed layer is full)
   */
  append(k: Float32Array, v: Float32Array): Int32Array {
    const { nHeadKv, headDim, nSlots } = this;
    const position = this.#newestPos + 1;
    const slots = new Int32Array(nHeadKv);
    for (let h = 0; h < nHeadKv; h++) {
      const s = this.table.freeSlot(h);
      if (s === -1) {
        throw new LimitError(`Cannot cache position ${position}: all ${nSlots} slots are in use`);
      }
      const at = (h * nSlots + s) * headDim;
      this.keys.set(k.subarray(h * headDim, (h + 1) * headDim), at);
      this.values.set(v.subarray(h * headDim, (h + 1) * headDim), at);
      roundKvInPlace(this.kvTypes.k, this.keys.subarray(at, at + headDim));
      roundKvInPlace(this.kvTypes.v, this.values.subarray(at, at + headDim));
      this.table.occupy(h, s, position, writtenScore(this.policy.spec, this.keys, at, headDim));
      slots[h] = s;
    }
    this.#newestPos = position;
    return slots;
  }

  /**
   * Adds a step's attention to the occupied slots' scores (`s ← fround(s + a)`)
   * when the policy's score source adds decode attention; else nothing (the
   * GPU's decode attention then has no scores to add into).
   *
   * @param row group-summed attention `[nHeadKv][nSlots]` (free slots ignored)
   */
  accumulate(row: Float32Array): void {
    if (!decodeAddsAttention(this.policy.spec)) return;
    for (let h = 0; h < this.nHeadKv; h++) {
      for (let s = 0; s < this.nSlots; s++) {
        if (this.table.position(h, s) !== FREE) {
          this.table.addScore(h, s, row[h * this.nSlots + s]!);
        }
      }
    }
  }

  /**
   * Decides this step from the policy's spec and applies it.
   *
   * @returns the decision
   */
  evict(): StepDecision {
    const decision = stepDecision(this.policy.spec, this.view());
    this.apply(decision);
    return decision;
  }

  /**
   * One decode step: append, accumulate the attention, evict.
   *
   * @param k rotated key per head `[nHeadKv][headDim]`
   * @param v value per head `[nHeadKv][headDim]`
   * @param attention the row `[nHeadKv][nSlots]`, or a function computing it from the layer after the append
   * @returns the decision
   */
  step(
    k: Float32Array,
    v: Float32Array,
    attention: Float32Array | ((layer: ReferenceKvLayer) => Float32Array),
  ): StepDecision {
    this.append(k, v);
    this.accumulate(typeof attention === "function" ? attention(this) : attention);
    return this.evict();
  }

  /**
   * Applies a decode decision: per head, merge the victim into its target
   * (K and V, or V only, with the policy's merge rule), then free the victim's slot; τ
   * takes the decision's value.
   *
   * @param decision from {@linkcode stepDecision}
   * @throws {RangeError} when a victim is free or protected, or a target is free or the victim
   */
  apply(decision: StepDecision): void {
    const { nHeadKv, nSlots, headDim } = this;
    const view = this.view();
    for (let h = 0; h < nHeadKv; h++) {
      const victim = decision.evictSlot[h]!;
      if (victim < 0) continue;
      const v = h * nSlots + victim;
      if (this.table.position(h, victim) === FREE || isProtected(view, v)) {
        throw new RangeError(`Cannot evict slot ${victim} of head ${h}: it is free or protected`);
      }
      const target = decision.mergeTarget[h]!;
      if (target >= 0) {
        if (target === victim || this.table.position(h, target) === FREE) {
          throw new RangeError(`Cannot merge slot ${victim} of head ${h} into slot ${target}`);
        }
        const merge = this.#merge();
        const w = mergeWeights(merge.rule, [decision.similarity[h]!], merge.selfLogit);
        const c = h * nSlots + target;
        const types = this.kvTypes;
        if (!merge.valuesOnly) mergeRows(this.keys, this.keys, c, [v], w, headDim, types.k);
        mergeRows(this.values, this.values, c, [v], w, headDim, types.v);
      }
      this.table.release(h, victim);
    }
    this.#tau = decision.tau;
  }

  /** Empties the layer and unsets τ (a new sequence). */
  reset(): void {
    this.table.clear();
    this.keys.fill(0);
    this.values.fill(0);
    this.#tau = NaN;
    this.#newestPos = -1;
  }

  #applyCompress(staging: KvLayerView, values: Float32Array, decision: CompressDecision): void {
    const { nHeadKv, headDim } = this;
    const tokens = staging.nSlots;
    const mergedK = staging.keys.slice(0, nHeadKv * tokens * headDim);
    const mergedV = values.slice(0, nHeadKv * tokens * headDim);
    for (let h = 0; h < nHeadKv; h++) {
      const groups = new Map<number, number[]>();
      for (let e = 0; e < tokens; e++) {
        const i = h * tokens + e;
        if (decision.keep[i] === 1) continue;
        if (isProtected(staging, i)) {
          throw new RangeError(`Cannot evict position ${e} of head ${h}: it is protected`);
        }
        const c = decision.mergeTarget[i]!;
        if (c < 0) continue;
        if (decision.keep[h * tokens + c] !== 1) {
          throw new RangeError(
            `Cannot merge position ${e} of head ${h} into evicted position ${c}`,
          );
        }
        groups.set(c, [...(groups.get(c) ?? []), i]);
      }
      for (const [c, members] of groups) {
        const merge = this.#merge();
        const w = mergeWeights(
          merge.rule,
          members.map((i) => decision.similarity[i]!),
          merge.selfLogit,
        );
        const types = this.kvTypes;
        if (!merge.valuesOnly) {
          mergeRows(mergedK, staging.keys, h * tokens + c, members, w, headDim, types.k);
        }
        mergeRows(mergedV, values, h * tokens + c, members, w, headDim, types.v);
      }
    }
    this.#load(staging, decision.keep, mergedK, mergedV);
    this.#tau = decision.tau;
  }

  /** The policy's merge settings; a decision that merges under a policy without them is a bug. */
  #merge(): KvMergeSpec {
    const merge = this.policy.spec.merge;
    if (merge === null) {
      throw new RangeError(`Cannot merge: policy ${this.policy.name} does not merge`);
    }
    return merge;
  }

  /** Copies the kept staging rows, in ascending position, into slots 0.. of each head. */
  #load(
    staging: KvLayerView,
    keep: Uint8Array,
    keys: Float32Array,
    values: Float32Array,
  ): void {
    const { nHeadKv, headDim, nSlots } = this;
    const tokens = staging.nSlots;
    for (let h = 0; h < nHeadKv; h++) {
      let slot = 0;
      for (let j = 0; j < tokens; j++) {
        const i = h * tokens + j;
        if (keep[i] !== 1) continue;
        if (slot >= this.budget.slots) {
          throw new RangeError(`Cannot keep more than ${this.budget.slots} tokens in head ${h}`);
        }
        this.table.occupy(h, slot, staging.pos[i]!, staging.score[i]!);
        this.keys.set(keys.subarray(i * headDim, (i + 1) * headDim), (h * nSlots + slot) * headDim);
        this.values.set(
          values.subarray(i * headDim, (i + 1) * headDim),
          (h * nSlots + slot) * headDim,
        );
        slot++;
      }
    }
    this.#newestPos = tokens - 1;
  }
}
