/**
 * The reference forward pass: a llama2.c-style transformer in plain
 * TypeScript over CPU weights, with a full KV cache (slot = position). It is
 * the oracle the GPU forward pass (`src/model/forward.ts`) is tested against,
 * and uses the same step comments in the same order. {@linkcode runForward}
 * is the transformer around any cache; `kv_forward.ts` runs it over a
 * policy-driven slot cache.
 *
 * @module
 */

import { LimitError } from "../errors.ts";
import type { ModelHParams } from "../model/hparams.ts";
import { ropeOptionsFor } from "../model/rope_options.ts";
import { addBias, addInPlace } from "./add.ts";
import { attention, type AttentionShape } from "./attention.ts";
import { embedding } from "./embedding.ts";
import { matmul } from "./matmul.ts";
import type { PackedMatrix, ReferenceWeights } from "./model_weights.ts";
import { rmsNorm } from "./rms_norm.ts";
import { rope, type RopeOptions } from "./rope.ts";
import { siluMul } from "./silu_mul.ts";

/** Options of {@linkcode ReferenceModel}. */
export interface ReferenceModelOptions {
  /** KV cache slots (the longest sequence); defaults to the trained context length. */
  readonly nCtx?: number;
}

/** Options of one {@linkcode ReferenceModel.forward} call. */
export interface ForwardOptions {
  /** Return the logits of every token, not only of the last one. */
  readonly allLogits?: boolean;
  /**
   * Receives a copy of each intermediate tensor under llama.cpp's graph name
   * (`attn_norm-0`, `Qcur-0` after RoPE, `kqv_out-0`, `l_out-0`,
   * `result_output`...), token-major, for finding where a pass goes wrong.
   */
  readonly onTensor?: (name: string, data: Float32Array) => void;
}

/**
 * A model ready to run on the CPU, holding its KV cache. Call
 * {@linkcode ReferenceModel.forward} with the prompt at position 0, then one
 * token at a time at the following positions.
 */
export class ReferenceModel {
  /** The model's hyper-parameters. */
  readonly hparams: ModelHParams;
  /** KV cache slots per layer. */
  readonly nCtx: number;
  readonly #weights: ReferenceWeights;
  readonly #rope: RopeOptions;
  /** Per layer: (n_kv_heads, n_ctx slots, head_dim), keys already rotated. */
  readonly #kCache: Float32Array[];
  /** Per layer: (n_kv_heads, n_ctx slots, head_dim). */
  readonly #vCache: Float32Array[];

  /**
   * @param weights the model's weights
   * @param options KV cache size
   */
  constructor(weights: ReferenceWeights, options: ReferenceModelOptions = {}) {
    const hp = weights.hparams;
    this.hparams = hp;
    this.nCtx = options.nCtx ?? hp.nCtxTrain;
    this.#weights = weights;
    this.#rope = ropeOptionsFor(hp, weights.ropeFreqs);
    const cacheSize = hp.nHeadKv * this.nCtx * hp.headDim;
    this.#kCache = Array.from({ length: hp.nLayer }, () => new Float32Array(cacheSize));
    this.#vCache = Array.from({ length: hp.nLayer }, () => new Float32Array(cacheSize));
  }

  /**
   * Runs `tokens` at positions `pos0, pos0 + 1, ...`, writing their keys and
   * values into the cache; earlier positions must have been run before.
   *
   * @param tokens token ids (a prompt chunk, or one token when decoding)
   * @param pos0 position of the first token
   * @param options all logits or the last only; intermediate tensors
   * @returns logits: (n_tokens, n_vocab) with `allLogits`, else (n_vocab) of the last token
   * @throws {LimitError} if the tokens run past the cache
   * @throws {RangeError} if a token id is outside the vocabulary
   */
  forward(tokens: readonly number[], pos0: number, options: ForwardOptions = {}): Float32Array {
    const hp = this.hparams;
    const T = tokens.length;
    const kvDim = hp.nHeadKv * hp.headDim;
    const shape: AttentionShape = {
      nHead: hp.nHead,
      nHeadKv: hp.nHeadKv,
      headDim: hp.headDim,
      nSlots: this.nCtx,
    };
    if (T === 0) throw new RangeError("Cannot run the forward pass on 0 tokens");
    if (pos0 < 0 || pos0 + T > this.nCtx) {
      throw new LimitError(
        `Cannot run tokens at positions ${pos0} to ${
          pos0 + T - 1
        }: the KV cache holds ${this.nCtx}`,
      );
    }
    const attend: AttendStep = (l, q, k, v) => {
      const kCache = this.#kCache[l]!; // (n_kv_heads, n_ctx, head_dim)
      const vCache = this.#vCache[l]!; // (n_kv_heads, n_ctx, head_dim)

      // kv write: token t goes to slot pos0 + t of each KV head
      for (let t = 0; t < T; t++) {
        for (let h = 0; h < hp.nHeadKv; h++) {
          const src = t * kvDim + h * hp.headDim;
          const dst = (h * this.nCtx + pos0 + t) * hp.headDim;
          kCache.set(k.subarray(src, src + hp.headDim), dst);
          vCache.set(v.subarray(src, src + hp.headDim), dst);
        }
      }

      // attention
      return attention(q, kCache, vCache, T, pos0, shape).out; // (T, n_head, head_dim)
    };
    return runForward(this.#weights, { tokens, pos0, rope: this.#rope, attend }, options);
  }
}

/**
 * The "kv write" and "attention" steps of one layer: receives the layer's
 * rotated queries (T, n_head, head_dim), rotated keys and values
 * (T, n_kv_heads, head_dim) of the pass's tokens, stores the keys and values
 * wherever its cache keeps them, and returns the attention output
 * (T, n_head, head_dim).
 */
export type AttendStep = (
  layer: number,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
) => Float32Array;

/** One forward pass: the tokens, where they sit, and how each layer attends. */
export interface ForwardPass {
  /** Token ids (at least one). */
  readonly tokens: readonly number[];
  /** Position of the first token. */
  readonly pos0: number;
  /** The model's rotation settings (`ropeOptionsFor`). */
  readonly rope: RopeOptions;
  /** The cache's kv write and attention, called once per layer in order. */
  readonly attend: AttendStep;
}

/**
 * The transformer around a cache: embedding, then per layer rmsnorm, qkv,
 * rope, the cache's kv write and attention (`pass.attend`), wo, residual and
 * the feed-forward block, then the final norm and lm_head. Shared by
 * {@linkcode ReferenceModel} (full cache) and the policy-driven cache of
 * `kv_forward.ts`, so both do the same arithmetic outside the cache.
 *
 * @param weights the model's weights
 * @param pass tokens, first position, rotation settings and the attention step
 * @param options all logits or the last only; intermediate tensors
 * @returns logits: (n_tokens, n_vocab) with `allLogits`, else (n_vocab) of the last token
 * @throws {RangeError} if there are no tokens or a token id is outside the vocabulary
 */
export function runForward(
  weights: ReferenceWeights,
  pass: ForwardPass,
  options: ForwardOptions = {},
): Float32Array {
  const hp = weights.hparams;
  const w = weights;
  const { tokens, pos0 } = pass;
  const T = tokens.length;
  const nEmbd = hp.nEmbd;
  const eps = hp.rmsEps;
  checkTokens(hp, tokens);
  const emit = options.onTensor;
  const show = (name: string, data: Float32Array) => emit?.(name, data.slice());

  // embedding
  const x = embedding(w.tokenEmbd.type, w.tokenEmbd.bytes, nEmbd, tokens); // (T, n_embd)
  show("inp_embd", x);
  for (let l = 0; l < hp.nLayer; l++) {
    const L = w.layers[l]!;

    // rmsnorm
    const xb = rmsNorm(x, L.attnNorm, nEmbd, eps); // (T, n_embd)
    show(`attn_norm-${l}`, xb);

    // qkv (+ bias)
    const q = project(L.wq, xb, T); // (T, n_head, head_dim)
    const k = project(L.wk, xb, T); // (T, n_kv_heads, head_dim)
    const v = project(L.wv, xb, T); // (T, n_kv_heads, head_dim)
    if (L.bq) addBias(q, L.bq);
    if (L.bk) addBias(k, L.bk);
    if (L.bv) addBias(v, L.bv);

    // rope
    rope(q, T, hp.nHead, pos0, pass.rope);
    rope(k, T, hp.nHeadKv, pos0, pass.rope);
    show(`Qcur-${l}`, q);
    show(`Kcur-${l}`, k);
    show(`Vcur-${l}`, v);

    // kv write + attention (the cache's)
    const out = pass.attend(l, q, k, v); // (T, n_head, head_dim)
    show(`kqv_merged_cont-${l}`, out);

    // wo
    const attnOut = project(L.wo, out, T); // (T, n_embd)
    show(`kqv_out-${l}`, attnOut);

    // residual
    addInPlace(x, attnOut);
    show(`ffn_inp-${l}`, x);

    // ffn norm
    const xf = rmsNorm(x, L.ffnNorm, nEmbd, eps); // (T, n_embd)
    show(`ffn_norm-${l}`, xf);

    // gate/up
    const gate = project(L.wGate, xf, T); // (T, n_ff)
    const up = project(L.wUp, xf, T); // (T, n_ff)
    show(`ffn_gate-${l}`, gate);
    show(`ffn_up-${l}`, up);

    // silu·mul
    const hidden = siluMul(gate, up); // (T, n_ff)
    show(`ffn_gate_par-${l}`, hidden);

    // down
    const down = project(L.wDown, hidden, T); // (T, n_embd)
    show(`ffn_out-${l}`, down);

    // residual
    addInPlace(x, down);
    show(`l_out-${l}`, x);
  }

  // final norm
  const rows = options.allLogits ? T : 1;
  const last = x.subarray((T - rows) * nEmbd); // (rows, n_embd)
  const xn = rmsNorm(last, w.outputNorm, nEmbd, eps); // (rows, n_embd)
  show("result_norm", xn);

  // lm_head
  const logits = project(w.output, xn, rows); // (rows, n_vocab)
  show("result_output", logits);
  return logits;
}

/**
 * Checks that a forward pass has tokens and that each id is in the vocabulary.
 *
 * @param hp the model's hyper-parameters
 * @param tokens token ids
 * @throws {RangeError} if there are no tokens or an id is outside the vocabulary
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkTokens } from "./forward.ts";
 * import type { ModelHParams } from "../model/hparams.ts";
 * const hp = { nVocab: 512 } as ModelHParams; // only the vocabulary size is read
 * checkTokens(hp, [1, 403, 511]);
 * assert.throws(() => checkTokens(hp, [1, 512]), /token 512: the vocabulary has 512 tokens/);
 * assert.throws(() => checkTokens(hp, []), /on 0 tokens/);
 * ```
 */
export function checkTokens(hp: ModelHParams, tokens: readonly number[]): void {
  if (tokens.length === 0) throw new RangeError("Cannot run the forward pass on 0 tokens");
  for (const id of tokens) {
    if (!Number.isInteger(id) || id < 0 || id >= hp.nVocab) {
      throw new RangeError(`Cannot embed token ${id}: the vocabulary has ${hp.nVocab} tokens`);
    }
  }
}

/** Y = X·Wᵀ for `tokens` rows of X: (tokens, matrix.rows). */
function project(matrix: PackedMatrix, x: Float32Array, tokens: number): Float32Array {
  return matmul(matrix.type, matrix.bytes, matrix.rows, matrix.cols, x, tokens);
}
