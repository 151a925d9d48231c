/**
 * The GPU forward pass: every dispatch of one decode step and of one prompt
 * chunk, recorded from ops whose pipelines, bind groups and buffers were
 * created once here. Reads like llama2.c's `forward()`; the CPU reference in
 * `src/reference/forward.ts` has the same step comments in the same order.
 *
 * @module
 */

import { createStorage } from "../gpu/buffers.ts";
import { createAddBias } from "../gpu/ops/add.ts";
import {
  createAttentionDecode,
  createAttentionPrefill,
  createAttentionScratch,
} from "../gpu/ops/attention.ts";
import { createGetRows } from "../gpu/ops/get_rows.ts";
import { createKvWrite } from "../gpu/ops/kv_write.ts";
import { createMatmul } from "../gpu/ops/matmul.ts";
import { createMatvec, type MatvecOptions } from "../gpu/ops/matvec.ts";
import { createRmsNorm } from "../gpu/ops/rms_norm.ts";
import { createRope } from "../gpu/ops/rope.ts";
import { createSiluMul } from "../gpu/ops/silu_mul.ts";
import type { Dispatch, GpuRuntime } from "../gpu/runtime.ts";
import { createStepBuffer, writeStep } from "../gpu/step.ts";
import type { GpuWeight } from "../gpu/weights.ts";
import type { KvLayerBinding, KvStepBuffers } from "../kv/cache.ts";
import type { AttentionShape } from "../reference/attention.ts";
import type { GpuModelWeights } from "./gpu_weights.ts";
import type { ModelHParams } from "./hparams.ts";
import { ropeOptionsFor } from "./rope_options.ts";

/** Sizes of a forward pass's buffers. */
export interface ForwardOptions {
  /** Context length: the most positions a sequence reaches (sizes the attention scratch). */
  readonly nCtx: number;
  /** Most prompt tokens per prefill chunk (default 128). */
  readonly maxBatch?: number;
  /** Keep a (max_batch, n_vocab) buffer so a chunk can return every row's logits. */
  readonly allLogits?: boolean;
  /**
   * Fuse the decode step's RMS norms and SiLU·mul into the input reads of the
   * mat-vecs that consume them (fewer dispatches, more reads of the activation
   * per workgroup). Default: on a CPU fallback adapter, where every dispatch
   * costs ~0.1 ms whatever its size; off on GPUs.
   */
  readonly fuseDecode?: boolean;
}

/** A dispatch with the name of the forward-pass step it belongs to (for per-step GPU times). */
export interface NamedDispatch {
  /** Step name, e.g. `"attention"` or `"lm_head"`. */
  readonly name: string;
  /** The recorded op. */
  readonly op: Dispatch;
}

/** Records the dispatches of a forward pass into command encoders. */
export class GpuForward {
  /** The model's hyper-parameters. */
  readonly hparams: ModelHParams;
  /** KV cache slots per layer. */
  readonly nCtx: number;
  /** Most tokens per prefill chunk. */
  readonly maxBatch: number;
  /** Bytes of activations, logits, scratch and the step uniform. */
  readonly scratchBytes: number;
  /** Step uniform: position, token count, cache fill, seed. */
  readonly step: GPUBuffer;
  /** (max_batch) u32: the prompt chunk's token ids. */
  readonly ids: GPUBuffer;
  /** (4) u32: [0] is the decode step's input token, and the sampler's output. */
  readonly token: GPUBuffer;
  /** (n_vocab) f32: logits of the last token of the step. */
  readonly logits: GPUBuffer;
  /** (max_batch, n_vocab) f32: every row's logits, with `allLogits`. */
  readonly logitsAll: GPUBuffer | undefined;
  /** The step buffers a KV cache's ops read (queries, keys, values, log-sum-exp, step). */
  readonly io: KvStepBuffers;

  readonly #rt: GpuRuntime;
  readonly #normed: GPUBuffer;
  readonly #last: GPUBuffer;
  #decode: NamedDispatch[] = [];
  #prefill: NamedDispatch[] = [];
  readonly #prefillHead: NamedDispatch[];
  readonly #prefillAllHead: NamedDispatch[];
  readonly #owned: GPUBuffer[] = [];
  readonly #body: (
    T: number,
    ids: GPUBuffer,
    caches: readonly KvLayerBinding[],
  ) => NamedDispatch[];
  #decodeBound: readonly KvLayerBinding[] | undefined;
  #prefillBound: readonly KvLayerBinding[] | undefined;
  readonly #decodeHead: NamedDispatch;

  /**
   * Creates the activation buffers and the ops that do not depend on the KV
   * cache; {@linkcode setCaches} then builds the step graphs over a cache.
   *
   * @param rt GPU runtime
   * @param hp the model's hyper-parameters
   * @param w the model's weights on the GPU
   * @param options context and batch sizes
   */
  constructor(rt: GpuRuntime, hp: ModelHParams, w: GpuModelWeights, options: ForwardOptions) {
    this.#rt = rt;
    this.hparams = hp;
    this.nCtx = options.nCtx;
    // Every row's logits must fit one storage binding: (B, n_vocab) f32.
    const logitRows = options.allLogits
      ? Math.floor(rt.device.limits.maxStorageBufferBindingSize / (hp.nVocab * 4))
      : Infinity;
    const B = this.maxBatch = Math.max(
      1,
      Math.min(options.maxBatch ?? 128, options.nCtx, logitRows),
    );
    const { nEmbd, nHead, nHeadKv, headDim, nFf, nVocab, rmsEps: eps } = hp;
    const qDim = nHead * headDim;
    const kvDim = nHeadKv * headDim;
    const dev = rt.device;
    const buf = (bytes: number, label: string) => {
      const b = createStorage(dev, bytes, label);
      this.#owned.push(b);
      return b;
    };

    // Buffers, sized for the largest step (B tokens).
    this.step = createStepBuffer(dev);
    this.#owned.push(this.step);
    this.ids = buf(B * 4, "ids"); // (B) u32
    this.token = buf(16, "token"); // (4) u32
    const x = buf(B * nEmbd * 4, "x"); // (B, n_embd) residual stream
    const xb = this.#normed = buf(B * nEmbd * 4, "xb"); // (B, n_embd) normed
    const q = buf(B * qDim * 4, "q"); // (B, n_head, head_dim)
    const k = buf(B * kvDim * 4, "k"); // (B, n_kv_heads, head_dim)
    const v = buf(B * kvDim * 4, "v"); // (B, n_kv_heads, head_dim)
    const att = buf(B * qDim * 4, "attn"); // (B, n_head, head_dim)
    const lse = buf(B * nHead * 4, "lse"); // (B, n_head)
    const gate = buf(B * nFf * 4, "gate"); // (B, n_ff)
    const up = buf(B * nFf * 4, "up"); // (B, n_ff)
    const hb = buf(B * nFf * 4, "hidden"); // (B, n_ff)
    const last = this.#last = buf(nEmbd * 4, "last"); // (n_embd) final-normed last row
    this.logits = buf(nVocab * 4, "logits"); // (n_vocab)
    this.logitsAll = options.allLogits ? buf(B * nVocab * 4, "logits_all") : undefined;
    this.io = { step: this.step, maxBatch: B, q, k, v, lse };
    const shape: AttentionShape = { nHead, nHeadKv, headDim, nSlots: this.nCtx };
    // Split-K attention partials, shared by every layer.
    const decodeScratch = createAttentionScratch(rt, shape, 1);
    const prefillScratch = B > 1 ? createAttentionScratch(rt, shape, B) : decodeScratch;
    for (const sc of new Set([decodeScratch, prefillScratch])) {
      this.#owned.push(sc.partAcc, sc.partMl);
    }
    this.scratchBytes = this.#owned.reduce((s, b) => s + b.size, 0);

    const rope = ropeOptionsFor(hp, w.ropeFreqs);
    const step = this.step;
    const fuseDecode = options.fuseDecode ?? rt.ctx.isFallback;
    // Input fusions of a decode mat-vec (none for a prompt chunk's mat-mul).
    type Fused = Pick<MatvecOptions, "rmsNorm" | "siluUp">;
    const proj = (
      weight: GpuWeight,
      input: GPUBuffer,
      output: GPUBuffer,
      T: number,
      acc = false,
      fused: Fused = {},
    ) =>
      T === 1
        ? createMatvec(rt, { weight, x: input, y: output, accumulate: acc, ...fused })
        : createMatmul(rt, { weight, x: input, y: output, maxTokens: T, step, accumulate: acc });
    const fuseNorms = fuseDecode && nEmbd % 4 === 0;
    const fuseSilu = fuseDecode && nFf % 4 === 0;

    /** The ops of one step of up to T tokens, through the final norm. */
    const body = (
      T: number,
      idsBuffer: GPUBuffer,
      caches: readonly KvLayerBinding[],
    ): NamedDispatch[] => {
      const ops: NamedDispatch[] = [];
      const add = (name: string, ...dispatches: Dispatch[]) => {
        for (const op of dispatches) ops.push({ name, op });
      };
      /** The RMS-normed residual as a mat-vec input: read through the norm in
       * decode when fused, else normed into xb by its own dispatch. */
      const normed = (name: string, weight: GPUBuffer, label: string) => {
        if (T === 1 && fuseNorms) return { input: x, fused: { rmsNorm: { weight, eps } } };
        add(name, createRmsNorm(rt, { x, weight, out: xb, rows: T, n: nEmbd, eps, label }));
        return { input: xb, fused: {} };
      };
      // embedding
      add(
        "embedding",
        createGetRows(rt, { table: w.tokenEmbd, ids: idsBuffer, out: x, maxTokens: T, step }),
      );
      for (let l = 0; l < hp.nLayer; l++) {
        const L = w.layers[l]!;
        const cache = caches[l]!;
        const { kCache: kC, vCache: vC } = cache;
        const layerShape: AttentionShape = { ...shape, nSlots: cache.nSlots };
        const label = `blk.${l}`;
        // rmsnorm
        const attnIn = normed("attn_norm", L.attnNorm, label);
        // qkv (+ bias)
        add(
          "qkv",
          proj(L.wq, attnIn.input, q, T, false, attnIn.fused),
          proj(L.wk, attnIn.input, k, T, false, attnIn.fused),
          proj(L.wv, attnIn.input, v, T, false, attnIn.fused),
        );
        if (L.bq) add("qkv_bias", createAddBias(rt, { a: q, bias: L.bq, rows: T, n: qDim, label }));
        if (L.bk) {
          add("qkv_bias", createAddBias(rt, { a: k, bias: L.bk, rows: T, n: kvDim, label }));
        }
        if (L.bv) {
          add("qkv_bias", createAddBias(rt, { a: v, bias: L.bv, rows: T, n: kvDim, label }));
        }
        // rope
        add("rope", createRope(rt, { q, k, nHead, nHeadKv, maxTokens: T, step, rope, label }));
        // kv write: a prompt chunk goes to slot = position; a decode step where the cache says
        add(
          "kv_write",
          cache.write ?? createKvWrite(rt, {
            k,
            v,
            kCache: kC,
            vCache: vC,
            nHeadKv,
            headDim,
            nSlots: cache.nSlots,
            maxTokens: T,
            step,
            label,
          }),
        );
        // attention (+ the policy's scores and eviction)
        if (T === 1) {
          add(
            "attention",
            createAttentionDecode(rt, {
              q,
              kCache: kC,
              vCache: vC,
              out: att,
              shape: layerShape,
              step,
              scratch: decodeScratch,
              label,
              ...(cache.scores ? { scores: cache.scores } : {}),
              ...(cache.kvOffset ? { kvOffset: cache.kvOffset } : {}),
            }),
          );
          add("kv_evict", ...cache.afterAttention);
        } else {
          add(
            "attention",
            createAttentionPrefill(rt, {
              q,
              kCache: kC,
              vCache: vC,
              out: att,
              lse,
              shape: layerShape,
              step,
              maxTokens: T,
              scratch: prefillScratch,
              label,
            }),
          );
          add("kv_stats", ...cache.afterAttention);
        }
        // wo + residual
        add("wo", proj(L.wo, att, x, T, true));
        // ffn norm
        const ffnIn = normed("ffn_norm", L.ffnNorm, label);
        // gate/up
        add(
          "gate_up",
          proj(L.wGate, ffnIn.input, gate, T, false, ffnIn.fused),
          proj(L.wUp, ffnIn.input, up, T, false, ffnIn.fused),
        );
        // silu·mul, then down + residual (decode: silu·mul fused into down's input)
        if (T === 1 && fuseSilu) {
          add("down", proj(L.wDown, gate, x, T, true, { siluUp: up }));
        } else {
          add("silu_mul", createSiluMul(rt, { gate, up, out: hb, n: T * nFf, label }));
          add("down", proj(L.wDown, hb, x, T, true));
        }
      }
      // final norm (decode: fused into lm_head's input)
      if (T > 1 || !fuseNorms) {
        add(
          "output_norm",
          createRmsNorm(rt, { x, weight: w.outputNorm, out: xb, rows: T, n: nEmbd, eps }),
        );
      }
      return ops;
    };

    // lm_head: decode reads row 0 of xb (or x through the final norm); a prompt
    // chunk's last row is copied to `last`.
    const lmHead = (
      input: GPUBuffer,
      out: GPUBuffer,
      T: number,
      fused: Fused = {},
    ): NamedDispatch => ({
      name: "lm_head",
      op: proj(w.output, input, out, T, false, fused),
    });
    this.#body = body;
    this.#decodeHead = fuseNorms
      ? lmHead(x, this.logits, 1, { rmsNorm: { weight: w.outputNorm, eps } })
      : lmHead(xb, this.logits, 1);
    this.#prefillHead = [lmHead(last, this.logits, 1)];
    this.#prefillAllHead = this.logitsAll && B > 1 ? [lmHead(xb, this.logitsAll, B)] : [];
  }

  /**
   * Builds the decode graph over a KV cache's decode bindings (once per
   * bindings: bind groups are made here, never per token; the same bindings
   * again are a no-op).
   *
   * @param layers per layer, the cache decode steps read and maintain
   */
  setDecodeCaches(layers: readonly KvLayerBinding[]): void {
    if (layers === this.#decodeBound) return;
    this.#checkLayers(layers.length);
    this.#decodeBound = layers;
    this.#decode = [...this.#body(1, this.token, layers), this.#decodeHead];
  }

  /**
   * Builds the prompt-chunk graph over a KV cache the chunks write at slot =
   * position (the same bindings again are a no-op).
   *
   * @param layers per layer, the cache prompt chunks write and what runs after their attention
   */
  setPrefillCaches(layers: readonly KvLayerBinding[]): void {
    if (layers === this.#prefillBound) return;
    this.#checkLayers(layers.length);
    this.#prefillBound = layers;
    this.#prefill = this.maxBatch > 1 ? this.#body(this.maxBatch, this.ids, layers) : [];
  }

  #checkLayers(n: number): void {
    if (n !== this.hparams.nLayer) {
      throw new RangeError(
        `Cannot bind KV caches of ${n} layers to a ${this.hparams.nLayer}-layer model`,
      );
    }
  }

  /**
   * Writes one step's inputs: its token ids and the step uniform. Queue writes
   * land before the next submitted command buffer.
   *
   * @param tokens the step's token ids (1 for decode, ≤ max_batch for a chunk), or
   *   `"sampled"` for a decode step fed by the token the last sampler wrote on the GPU
   * @param prefill whether the step runs the prompt-chunk graph (default: more than one token)
   * @param pos position of the first token
   * @param seed sampling seed for this step
   */
  writeInputs(
    tokens: readonly number[] | "sampled",
    pos: number,
    seed: number,
    prefill = tokens !== "sampled" && tokens.length > 1,
  ): void {
    const T = tokens === "sampled" ? 1 : tokens.length;
    if (T < 1 || T > this.maxBatch) {
      throw new RangeError(`Cannot run a step of ${T} tokens: expected 1 to ${this.maxBatch}`);
    }
    const dev = this.#rt.device;
    writeStep(dev, this.step, { pos, nTokens: T, nKv: pos + T, seed });
    // "sampled": the decode step reads the token the previous step's sampler left on the GPU.
    if (tokens !== "sampled") {
      dev.queue.writeBuffer(prefill ? this.ids : this.token, 0, new Uint32Array(tokens));
    }
  }

  /**
   * Records one step's forward pass up to the logits of its last token in
   * {@linkcode logits} (and, for a chunk with `allLogits`, every row's logits
   * in {@linkcode logitsAll}; a one-token step has only {@linkcode logits}).
   *
   * @param encoder the step's command encoder
   * @param T tokens in the step, as passed to {@linkcode writeInputs}
   * @param options `allLogits`: fill {@linkcode logitsAll} too; `prefill`: use the
   *   prompt-chunk graph (default: when T > 1); `timestampWrites` for the pass
   * @returns the open compute pass, for the caller to add the sampler and end
   */
  encode(
    encoder: GPUCommandEncoder,
    T: number,
    options: {
      allLogits?: boolean;
      prefill?: boolean;
      timestampWrites?: GPUComputePassTimestampWrites;
    } = {},
  ): GPUComputePassEncoder {
    const desc = (label: string): GPUComputePassDescriptor =>
      options.timestampWrites ? { label, timestampWrites: options.timestampWrites } : { label };
    if (!(options.prefill ?? T > 1)) {
      const pass = encoder.beginComputePass(desc("decode"));
      for (const op of this.#decode) op.op.encode(pass);
      return pass;
    }
    if (this.#prefill.length === 0) {
      throw new RangeError("Cannot run a multi-token step: this forward pass has max_batch 1");
    }
    const body = encoder.beginComputePass({ label: "prefill" });
    for (const op of this.#prefill) op.op.encode(body);
    body.end();
    if (options.allLogits && !this.logitsAll) {
      throw new RangeError("Cannot return every row's logits: allLogits is off");
    }
    // The last row's final-normed state feeds the lm_head of the step's last token.
    const nEmbd = this.hparams.nEmbd;
    encoder.copyBufferToBuffer(this.#normed, (T - 1) * nEmbd * 4, this.#last, 0, nEmbd * 4);
    const pass = encoder.beginComputePass(desc("lm_head"));
    if (options.allLogits) { for (const op of this.#prefillAllHead) op.op.encode(pass); }
    for (const op of this.#prefillHead) op.op.encode(pass);
    return pass;
  }

  /** Number of dispatches of one decode step (timestamp slots {@linkcode encodeDecodeTimed} needs: 2 each). */
  get decodeDispatchCount(): number {
    return this.#decode.length;
  }

  /**
   * Records one decode step with every dispatch in its own compute pass,
   * timed by timestamp queries `2i` and `2i + 1` of `querySet` (for
   * per-kernel GPU times; slower than {@linkcode encode}).
   *
   * @param encoder the step's command encoder
   * @param querySet a timestamp query set of at least 2 × {@linkcode decodeDispatchCount} queries
   * @param extra dispatches to time after the forward pass (e.g. the sampler), with their names
   * @returns the step name of each timed pass, in query order
   */
  encodeDecodeTimed(
    encoder: GPUCommandEncoder,
    querySet: GPUQuerySet,
    extra: readonly NamedDispatch[] = [],
  ): string[] {
    const ops = [...this.#decode, ...extra];
    ops.forEach(({ name, op }, i) => {
      const pass = encoder.beginComputePass({
        label: name,
        timestampWrites: {
          querySet,
          beginningOfPassWriteIndex: 2 * i,
          endOfPassWriteIndex: 2 * i + 1,
        },
      });
      op.encode(pass);
      pass.end();
    });
    return ops.map((o) => o.name);
  }

  /** Frees the buffers this forward pass created (not the weights). */
  destroy(): void {
    for (const b of this.#owned) b.destroy();
  }
}
