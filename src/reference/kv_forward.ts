/**
 * The reference forward pass over a policy-driven slot cache: the CPU
 * oracle of the GPU forward pass under `--kv full|streaming|h2o|d2o`, doing
 * the same steps in the same order so the two can be compared at model level
 * (positions per layer and head, merge targets, thresholds).
 *
 * - **Prefill** (the prompt at position 0, `T'` tokens): every layer attends
 *   over the whole prompt (a staging cache, slot = position) exactly as the
 *   full-cache `ReferenceModel` does, and records per query head the
 *   causal column sums of its attention (`causalColumnSums`) and their
 *   variance (`columnVariance`). Then the policy plans the budgets from
 *   `{ promptLength: T', capacity: nCtx, headVariance }`, a
 *   {@linkcode ReferenceKvCache} is built from the plan, and each layer is
 *   `prefill`ed with its prompt K/V and the group-summed column sums, from
 *   which it makes the prompt's scores by the policy's score source — the
 *   compression happens there.
 * - **Decode** (one token at position `p`): per layer the rotated key and
 *   value are `append`ed into each KV head's free slot; attention runs over
 *   the occupied slots, which are always the prefix `0 .. n−1` of the slots
 *   (the invariant the GPU decode attention relies on; checked here); the
 *   group-summed attention row (`slotAttention`) is `accumulate`d into the
 *   scores (when the score source adds decode attention); then `evict()`
 *   applies the policy's decision.
 *
 * The attention output comes from {@linkcode attention} over that prefix, so
 * under the `full` policy (slot = position) every logit equals the full-cache
 * reference's bit for bit.
 *
 * An f16 cache (`kvTypes`, keys and values apart) holds every K (or V) value
 * rounded to the nearest half where the GPU stores it: the prompt's staging
 * rows, so the prompt's attention, its column sums and the compression read
 * the stored values; each decode token's row; each merged row
 * (`ReferenceKvLayer`). All arithmetic stays as in an f32 cache.
 *
 * @module
 */

import { LimitError } from "../errors.ts";
import { DEFAULT_KV_TYPES, type KvTypes, roundKv } from "../gpu/ops/kv_elem.ts";
import type { ModelHParams } from "../model/hparams.ts";
import { ropeOptionsFor } from "../model/rope_options.ts";
import type { KvPlan, KvPolicy, KvShape, LayerBudget } from "../kv/policy.ts";
import { layerSlots } from "../kv/layer_spec.ts";
import { columnSumsFrom } from "../kv/score_source.ts";
import { attention, type AttentionShape } from "./attention.ts";
import { type AttendStep, checkTokens, type ForwardOptions, runForward } from "./forward.ts";
import { causalColumnSums, columnVariance, groupColumnSums } from "./kv/column_sums.ts";
import { ReferenceKvCache } from "./kv/kv_cache.ts";
import type { ReferenceKvLayer } from "./kv/kv_layer.ts";
import type { CompressDecision, StepDecision } from "./kv/layer_view.ts";
import { slotAttention } from "./kv/slot_attention.ts";
import { FREE } from "./kv/slot_table.ts";
import { type ReferenceWeights, repeatKvWeights } from "./model_weights.ts";
import { kvRepeat } from "../model/repeat_kv.ts";
import type { RopeOptions } from "./rope.ts";

/** Options of {@linkcode ReferencePolicyModel}. */
export interface ReferencePolicyModelOptions {
  /** Capacity: the most tokens a sequence holds (the full cache and every budget's ceiling); defaults to the trained context length. */
  readonly nCtx?: number;
  /** Element types of the cached keys and values (default f32 both). */
  readonly kvTypes?: KvTypes;
}

/** What the prefill of the current sequence measured and decided. */
export interface PolicyPrefill {
  /** `T'`: tokens in the prompt. */
  readonly promptLength: number;
  /** The policy's plan: per-layer budgets, and for d2o the statistic `F^ℓ` and share `α_ℓ`. */
  readonly plan: KvPlan;
  /** Per layer, the causal column sums of each query head's prompt attention: `[nHead][T']`. */
  readonly columnSums: readonly Float32Array[];
  /** Per layer, the unbiased variance over keys of each query head's column sums: `[nHead]`. */
  readonly headVariance: readonly Float64Array[];
  /** Per layer, the bulk compression's decision (slots index the prompt), or null when nothing was evicted. */
  readonly compressions: readonly (CompressDecision | null)[];
}

/** A copy of one layer's cache state. */
export interface KvLayerState {
  /** The layer's budget. */
  readonly budget: LayerBudget;
  /** Slots per KV head. */
  readonly nSlots: number;
  /** Original position per (KV head, slot), −1 = free: `[nHeadKv][nSlots]`. */
  readonly pos: Int32Array;
  /** Accumulated attention per (KV head, slot): `[nHeadKv][nSlots]`. */
  readonly score: Float32Array;
  /** Rotated keys: `[nHeadKv][nSlots][headDim]`. */
  readonly keys: Float32Array;
  /** Values: `[nHeadKv][nSlots][headDim]`. */
  readonly values: Float32Array;
  /** The merge threshold τ (NaN while unset). */
  readonly tau: number;
  /** Position of the newest cached token. */
  readonly newestPos: number;
}

/**
 * A model running on the CPU over a slot cache driven by a KV policy. Call
 * {@linkcode ReferencePolicyModel.forward} with the whole prompt at position
 * 0 (a new sequence: the cache is re-planned and τ unset), then with tokens at
 * the following positions (each one a decode step).
 */
export class ReferencePolicyModel {
  /** The model's hyper-parameters. */
  readonly hparams: ModelHParams;
  /** Capacity of a sequence (see {@linkcode ReferencePolicyModelOptions.nCtx}). */
  readonly nCtx: number;
  /** The deciding policy. */
  readonly policy: KvPolicy;
  /** Element types of the cached keys and values. */
  readonly kvTypes: KvTypes;
  readonly #weights: ReferenceWeights;
  readonly #rope: RopeOptions;
  #cache: ReferenceKvCache | null = null;
  #prefill: PolicyPrefill | null = null;
  /** The prompt of a deferred compression (`--compress-at first-decode`), until its first decode step. */
  #staged: StagedPrompt | null = null;
  #lastStep: StepDecision[] | null = null;
  /** Position the next decode token must have. */
  #next = 0;

  /**
   * @param weights the model's weights
   * @param policy the KV policy (its options hold the budget)
   * @param options capacity, element types
   */
  constructor(
    weights: ReferenceWeights,
    policy: KvPolicy,
    options: ReferencePolicyModelOptions = {},
  ) {
    // --select-per query-head: the forward pass and the cache run on repeated KV heads.
    const run = repeatKvWeights(weights, kvRepeat(weights.hparams, policy.options.selectPer));
    this.hparams = run.hparams;
    this.nCtx = options.nCtx ?? weights.hparams.nCtxTrain;
    this.policy = policy;
    this.kvTypes = options.kvTypes ?? DEFAULT_KV_TYPES;
    this.#weights = run;
    this.#rope = ropeOptionsFor(weights.hparams, weights.ropeFreqs);
  }

  /** The current sequence's prefill statistics, plan and compressions (null before the first prompt). */
  get prefill(): PolicyPrefill | null {
    return this.#prefill;
  }

  /** Per layer, the decision of the last decode step (null until a token is decoded after the prompt). */
  get lastStep(): readonly StepDecision[] | null {
    return this.#lastStep;
  }

  /**
   * Copies one layer's slot table, keys, values and threshold.
   *
   * @param layer layer index
   * @returns the layer's state
   * @throws {RangeError} before the first prompt or for a layer outside the model
   */
  layerState(layer: number): KvLayerState {
    const cached = this.#cache?.layers[layer];
    if (!cached) {
      throw new RangeError(
        `Cannot read layer ${layer}: ${
          this.#cache ? `the model has ${this.hparams.nLayer} layers` : "no prompt has run"
        }`,
      );
    }
    return {
      budget: cached.budget,
      nSlots: cached.nSlots,
      pos: cached.table.pos.slice(),
      score: cached.table.score.slice(),
      keys: cached.keys.slice(),
      values: cached.values.slice(),
      tau: cached.tau,
      newestPos: cached.newestPos,
    };
  }

  /**
   * Runs `tokens` at positions `pos0, pos0 + 1, ...`. At position 0 they are
   * the prompt of a new sequence (prefill, then compression); later they are
   * decode steps, one token at a time, continuing the sequence.
   *
   * @param tokens token ids
   * @param pos0 0 for a prompt, else the next position of the sequence
   * @param options all logits or the last only; intermediate tensors (reported per decode token)
   * @returns logits: (n_tokens, n_vocab) with `allLogits`, else (n_vocab) of the last token
   * @throws {LimitError} if the prompt exceeds the capacity or an uncompressed layer is full
   * @throws {RangeError} if a token id is outside the vocabulary or `pos0` does not continue the sequence
   */
  forward(tokens: readonly number[], pos0: number, options: ForwardOptions = {}): Float32Array {
    checkTokens(this.hparams, tokens);
    if (pos0 === 0) return this.#runPrompt(tokens, options);
    if (pos0 === this.#next && this.#staged !== null) {
      const first = this.#firstDecode(this.#staged, tokens[0]!, options.onTensor);
      if (tokens.length === 1) return first;
      const rest = this.forward(tokens.slice(1), pos0 + 1, options);
      if (!options.allLogits) return rest;
      const all = new Float32Array(first.length + rest.length);
      all.set(first);
      all.set(rest, first.length);
      return all;
    }
    if (pos0 !== this.#next || this.#cache === null) {
      throw new RangeError(
        `Cannot run position ${pos0}: the sequence continues at position ${this.#next}`,
      );
    }
    const nVocab = this.hparams.nVocab;
    const rows = options.allLogits ? tokens.length : 1;
    const logits = new Float32Array(rows * nVocab); // (rows, n_vocab)
    tokens.forEach((token, t) => {
      const row = this.#decode(this.#cache!, token, pos0 + t, options.onTensor);
      if (t >= tokens.length - rows) logits.set(row, (t - tokens.length + rows) * nVocab);
    });
    return logits;
  }

  /** Prefill of a new sequence: full attention over the prompt, statistics, plan, compression. */
  #runPrompt(tokens: readonly number[], options: ForwardOptions): Float32Array {
    const hp = this.hparams;
    const T = tokens.length;
    const { nHead, nHeadKv, headDim } = hp;
    const shape: AttentionShape = { nHead, nHeadKv, headDim, nSlots: T };
    if (T > this.nCtx) {
      throw new LimitError(
        `Cannot run tokens at positions 0 to ${T - 1}: the KV cache holds ${this.nCtx}`,
      );
    }
    const queries: Float32Array[] = []; // per layer (T, n_head, head_dim)
    const keys: Float32Array[] = []; // per layer (n_kv_heads, T, head_dim)
    const values: Float32Array[] = []; // per layer (n_kv_heads, T, head_dim)
    const columnSums: Float32Array[] = []; // per layer (n_head, T)
    const headVariance: Float64Array[] = []; // per layer (n_head)
    const spec = this.policy.spec;
    const fromQuery = columnSumsFrom(spec, T) ?? 0;
    const types = this.kvTypes;
    const attend: AttendStep = (l, q, k, v) => {
      // kv write: the prompt goes to a staging cache, slot = position, as its types store it
      const kStage = roundKv(types.k, headMajor(k, T, nHeadKv, headDim)); // (n_kv_heads, T, head_dim)
      const vStage = roundKv(types.v, headMajor(v, T, nHeadKv, headDim)); // (n_kv_heads, T, head_dim)
      queries[l] = q.slice();
      keys[l] = kStage;
      values[l] = vStage;

      // attention
      const { out } = attention(q, kStage, vStage, T, 0, shape); // (T, n_head, head_dim)

      // column sums (from the observation window only, when the policy scores by one) and their variance
      columnSums[l] = causalColumnSums(q, kStage, T, shape, fromQuery); // (n_head, T)
      headVariance[l] = columnVariance(columnSums[l], T, nHead); // (n_head)
      return out;
    };
    const logits = runForward(
      this.#weights,
      { tokens, pos0: 0, rope: this.#rope, attend },
      options,
    );

    this.#cache = null;
    this.#lastStep = null;
    this.#next = T;
    // --compress-at first-decode: the first decode step attends over T + 1 rows, then compresses.
    if (this.policy.options.compressAt === "first-decode" && T < this.nCtx) {
      this.#staged = { queries, keys, values, headVariance, columnSums };
      this.#prefill = null;
      return logits;
    }
    this.#staged = null;
    this.#compressPrompt(keys, values, columnSums, headVariance, T);
    return logits;
  }

  /**
   * The first decode step of a deferred compression: the token attends over
   * the `T` staged rows and its own, exactly as in the full cache; then the
   * `T + 1` rows are compressed with the column sums of all `T + 1` queries
   * (the prompt's plus this one) and the prompt's head variances.
   */
  #firstDecode(staged: StagedPrompt, token: number, onTensor: ForwardOptions["onTensor"]) {
    const { nHead, nHeadKv, headDim } = this.hparams;
    const T = this.#next;
    const rows = T + 1;
    const shape: AttentionShape = { nHead, nHeadKv, headDim, nSlots: rows };
    const keys: Float32Array[] = [];
    const values: Float32Array[] = [];
    const columnSums: Float32Array[] = [];
    const spec = this.policy.spec;
    // The observation window of a window-scored policy ends at the prompt's last token, as on the GPU.
    const fromQuery = columnSumsFrom(spec, T) ?? 0;
    const types = this.kvTypes;
    const attend: AttendStep = (l, q, k, v) => {
      // the token's row is stored as its types store it, after the staged prompt's
      const kRow = roundKv(types.k, k);
      const vRow = roundKv(types.v, v);
      keys[l] = appendRow(staged.keys[l]!, kRow, T, nHeadKv, headDim); // (n_kv_heads, T + 1, head_dim)
      values[l] = appendRow(staged.values[l]!, vRow, T, nHeadKv, headDim);
      const { out } = attention(q, keys[l]!, values[l]!, 1, T, shape); // (1, n_head, head_dim)
      const all = new Float32Array(rows * nHead * headDim); // (T + 1, n_head, head_dim)
      all.set(staged.queries[l]!);
      all.set(q, T * nHead * headDim);
      columnSums[l] = causalColumnSums(all, keys[l]!, rows, shape, fromQuery); // (n_head, T + 1)
      return out;
    };
    const pass = { tokens: [token], pos0: T, rope: this.#rope, attend };
    const logits = runForward(this.#weights, pass, onTensor ? { onTensor } : {});
    this.#staged = null;
    this.#compressPrompt(keys, values, columnSums, staged.headVariance, rows);
    this.#next = rows;
    return logits;
  }

  /** Plans the budgets of `T'` staged rows and compresses every layer into its slot cache. */
  #compressPrompt(
    keys: readonly Float32Array[],
    values: readonly Float32Array[],
    columnSums: Float32Array[],
    headVariance: Float64Array[],
    T: number,
  ): void {
    const hp = this.hparams;
    const { nHead, nHeadKv, headDim } = hp;
    const shape: AttentionShape = { nHead, nHeadKv, headDim, nSlots: T };
    const spec = this.policy.spec;

    // plan
    const kvShape: KvShape = { nLayer: hp.nLayer, nHead, nHeadKv, headDim };
    const plan = this.policy.plan(kvShape, { promptLength: T, capacity: this.nCtx, headVariance });

    // compress
    const nSlots = plan.layers.map((budget) => layerSlots(spec, budget, T, this.nCtx));
    const layerShape = { nHeadKv, headDim, kvTypes: this.kvTypes };
    const cache = new ReferenceKvCache(this.policy, plan, layerShape, nSlots);
    // the layer scores its prompt from these by the policy's score source (and pools them)
    const compressions = cache.layers.map((layer, l) =>
      layer.prefill(keys[l]!, values[l]!, groupColumnSums(columnSums[l]!, T, shape), T)
    );
    this.#cache = cache;
    this.#prefill = { promptLength: T, plan, columnSums, headVariance, compressions };
  }

  /** One decode step at position `pos`; returns its logits (n_vocab). */
  #decode(
    cache: ReferenceKvCache,
    token: number,
    pos: number,
    onTensor: ForwardOptions["onTensor"],
  ): Float32Array {
    const { nHead, nHeadKv, headDim } = this.hparams;
    const steps: StepDecision[] = [];
    const attend: AttendStep = (l, q, k, v) => {
      const layer = cache.layers[l]!;

      // kv write: the token goes to each KV head's free slot
      layer.append(k, v);

      // attention: over the occupied slots, the prefix 0 .. n−1
      const n = occupiedPrefix(layer, l);
      const shape: AttentionShape = { nHead, nHeadKv, headDim, nSlots: layer.nSlots };
      const { out } = attention(q, layer.keys, layer.values, 1, n - 1, shape); // (1, n_head, head_dim)
      const slots = { ...shape, pos: layer.table.pos, keys: layer.keys, values: layer.values };
      layer.accumulate(slotAttention(q, slots, nHead).row); // (n_kv_heads, n_slots)

      // evict
      steps[l] = layer.evict();
      return out;
    };
    const pass = { tokens: [token], pos0: pos, rope: this.#rope, attend };
    const logits = runForward(this.#weights, pass, onTensor ? { onTensor } : {});
    this.#lastStep = steps;
    this.#next = pos + 1;
    return logits;
  }
}

/** A prompt whose compression waits for the first decode step, per layer. */
interface StagedPrompt {
  /** Rotated queries (T, n_head, head_dim). */
  readonly queries: readonly Float32Array[];
  /** Rotated keys (n_kv_heads, T, head_dim). */
  readonly keys: readonly Float32Array[];
  /** Values (n_kv_heads, T, head_dim). */
  readonly values: readonly Float32Array[];
  /** The prompt's per-query-head variances of its column sums (the layer statistic's input). */
  readonly headVariance: Float64Array[];
  /** The prompt's column sums (n_head, T). */
  readonly columnSums: readonly Float32Array[];
}

/** (heads, T, head_dim) plus one (heads, head_dim) row → (heads, T + 1, head_dim). */
function appendRow(
  stage: Float32Array,
  row: Float32Array,
  tokens: number,
  heads: number,
  headDim: number,
): Float32Array {
  const out = new Float32Array((tokens + 1) * heads * headDim);
  for (let h = 0; h < heads; h++) {
    out.set(
      stage.subarray(h * tokens * headDim, (h + 1) * tokens * headDim),
      h * (tokens + 1) * headDim,
    );
    out.set(row.subarray(h * headDim, (h + 1) * headDim), (h * (tokens + 1) + tokens) * headDim);
  }
  return out;
}

/** (T, heads, head_dim) → (heads, T, head_dim). */
function headMajor(x: Float32Array, tokens: number, heads: number, headDim: number): Float32Array {
  const out = new Float32Array(tokens * heads * headDim); // (heads, T, head_dim)
  for (let t = 0; t < tokens; t++) {
    for (let h = 0; h < heads; h++) {
      const src = (t * heads + h) * headDim;
      out.set(x.subarray(src, src + headDim), (h * tokens + t) * headDim);
    }
  }
  return out;
}

/** The occupancy `n` of a layer whose occupied slots are exactly `0 .. n−1` in every head. */
function occupiedPrefix(layer: ReferenceKvLayer, index: number): number {
  const { nHeadKv, nSlots } = layer;
  const n = layer.table.occupancy(0);
  for (let h = 0; h < nHeadKv; h++) {
    for (let s = 0; s < nSlots; s++) {
      if ((layer.table.pos[h * nSlots + s] !== FREE) !== s < n) {
        throw new RangeError(
          `Cannot attend in layer ${index}: KV head ${h} does not occupy exactly slots 0 to ${
            n - 1
          }`,
        );
      }
    }
  }
  return n;
}
