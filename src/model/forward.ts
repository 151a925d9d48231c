/**
 * The GPU forward pass: every dispatch of one decode step and of one prompt
 * chunk, recorded from ops whose pipelines, bind groups and buffers were
 * created once per graph. `#layer` builds one transformer layer and reads
 * like llama2.c's `forward()`; the CPU reference in `src/reference/forward.ts`
 * has the same step comments in the same order. The KV cache's part of a
 * layer (where K/V go, the scores attention adds into, what runs after
 * attention) comes in as data: its {@linkcode KvLayerBinding}s.
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
import type { GpuTimer } from "../gpu/timing.ts";
import type { GpuWeight } from "../gpu/weights.ts";
import type { KvLayerBinding, KvStepBuffers } from "../kv/cache.ts";
import type { AttentionScratch, AttentionShape } from "../gpu/ops/attention.ts";
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

/** The activation buffers of a step of up to `max_batch` tokens. */
interface Activations {
  /** (B, n_embd) residual stream. */
  readonly x: GPUBuffer;
  /** (B, n_embd) normed. */
  readonly xb: GPUBuffer;
  /** (B, n_head, head_dim). */
  readonly q: GPUBuffer;
  /** (B, n_kv_heads, head_dim). */
  readonly k: GPUBuffer;
  /** (B, n_kv_heads, head_dim). */
  readonly v: GPUBuffer;
  /** (B, n_head, head_dim) attention output. */
  readonly att: GPUBuffer;
  /** (B, n_head) attention log-sum-exp. */
  readonly lse: GPUBuffer;
  /** (B, n_ff). */
  readonly gate: GPUBuffer;
  /** (B, n_ff). */
  readonly up: GPUBuffer;
  /** (B, n_ff) SiLU(gate)·up. */
  readonly hb: GPUBuffer;
  /** (n_embd) final-normed last row of a prompt chunk. */
  readonly last: GPUBuffer;
}

/** Input fusions of a decode mat-vec (none for a prompt chunk's mat-mul). */
type Fused = Pick<MatvecOptions, "rmsNorm" | "siluUp">;

/** A recorded graph: its dispatches in order, and the ones it created (and frees). */
interface Graph {
  readonly ops: NamedDispatch[];
  readonly owned: Dispatch[];
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
  readonly #w: GpuModelWeights;
  readonly #a: Activations;
  readonly #owned: GPUBuffer[] = [];
  readonly #shape: AttentionShape;
  readonly #decodeScratch: AttentionScratch;
  readonly #prefillScratch: AttentionScratch;
  readonly #rope: ReturnType<typeof ropeOptionsFor>;
  readonly #fuseNorms: boolean;
  readonly #fuseSilu: boolean;
  readonly #heads: Graph;
  /** The decode step's lm_head, made with the decode graph (its pipeline compiles after the first token). */
  #decodeHead: NamedDispatch | undefined;
  readonly #makeDecodeHead: () => NamedDispatch;
  /** A prompt chunk's lm_head on its last row, made on first use (its pipeline compiles while the chunk runs). */
  #prefillHead: NamedDispatch | undefined;
  readonly #makePrefillHead: () => NamedDispatch;
  readonly #prefillAllHead: NamedDispatch[];
  #decode: Graph = { ops: [], owned: [] };
  #prefill: Graph = { ops: [], owned: [] };
  #decodeBound: readonly KvLayerBinding[] | undefined;
  #prefillBound: readonly KvLayerBinding[] | undefined;
  /** Rows the prompt-chunk graph's dispatches cover. */
  #prefillRows = 0;

  /**
   * Creates the activation buffers and the ops that do not depend on the KV
   * cache; {@linkcode setDecodeCaches} and {@linkcode setPrefillCaches} then
   * build the step graphs over a cache's bindings.
   *
   * @param rt GPU runtime
   * @param hp the model's hyper-parameters
   * @param w the model's weights on the GPU
   * @param options context and batch sizes
   */
  constructor(rt: GpuRuntime, hp: ModelHParams, w: GpuModelWeights, options: ForwardOptions) {
    this.#rt = rt;
    this.#w = w;
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
    const { nEmbd, nHead, nHeadKv, headDim, nFf, nVocab } = hp;
    const buf = (bytes: number, label: string) => {
      const b = createStorage(rt.device, bytes, label);
      this.#owned.push(b);
      return b;
    };

    // Buffers, sized for the largest step (B tokens).
    this.step = createStepBuffer(rt.device);
    this.#owned.push(this.step);
    this.ids = buf(B * 4, "ids"); // (B) u32
    this.token = buf(16, "token"); // (4) u32
    const a: Activations = this.#a = {
      x: buf(B * nEmbd * 4, "x"),
      xb: buf(B * nEmbd * 4, "xb"),
      q: buf(B * nHead * headDim * 4, "q"),
      k: buf(B * nHeadKv * headDim * 4, "k"),
      v: buf(B * nHeadKv * headDim * 4, "v"),
      att: buf(B * nHead * headDim * 4, "attn"),
      lse: buf(B * nHead * 4, "lse"),
      gate: buf(B * nFf * 4, "gate"),
      up: buf(B * nFf * 4, "up"),
      hb: buf(B * nFf * 4, "hidden"),
      last: buf(nEmbd * 4, "last"),
    };
    this.logits = buf(nVocab * 4, "logits"); // (n_vocab)
    this.logitsAll = options.allLogits ? buf(B * nVocab * 4, "logits_all") : undefined;
    this.io = { step: this.step, maxBatch: B, q: a.q, k: a.k, v: a.v, lse: a.lse };
    this.#shape = { nHead, nHeadKv, headDim, nSlots: this.nCtx };
    // Split-K attention partials, shared by every layer.
    this.#decodeScratch = createAttentionScratch(rt, this.#shape, 1);
    this.#prefillScratch = B > 1 ? createAttentionScratch(rt, this.#shape, B) : this.#decodeScratch;
    for (const sc of new Set([this.#decodeScratch, this.#prefillScratch])) {
      this.#owned.push(sc.partAcc, sc.partMl);
    }
    this.scratchBytes = this.#owned.reduce((s, b) => s + b.size, 0);
    this.#rope = ropeOptionsFor(hp, w.ropeFreqs);
    const fuseDecode = options.fuseDecode ?? rt.ctx.isFallback;
    this.#fuseNorms = fuseDecode && nEmbd % 4 === 0;
    this.#fuseSilu = fuseDecode && nFf % 4 === 0;

    // lm_head: decode reads row 0 of xb (or x through the final norm); a prompt
    // chunk's last row is copied to `last`.
    const norm = { rmsNorm: { weight: w.outputNorm, eps: hp.rmsEps } };
    this.#heads = { ops: [], owned: [] };
    const head = (input: GPUBuffer, out: GPUBuffer, T: number, fused: Fused = {}) => {
      const op = this.#proj(w.output, input, out, T, false, fused);
      this.#heads.owned.push(op);
      return { name: "lm_head", op };
    };
    this.#makeDecodeHead = () =>
      this.#fuseNorms ? head(a.x, this.logits, 1, norm) : head(a.xb, this.logits, 1);
    this.#makePrefillHead = () => head(a.last, this.logits, 1);
    this.#prefillAllHead = this.logitsAll && B > 1 ? [head(a.xb, this.logitsAll, B)] : [];
  }

  /**
   * Builds the decode graph over a KV cache's decode bindings (once per
   * bindings: bind groups are made here, never per token; the same bindings
   * again are a no-op). The graph it replaces is freed.
   *
   * @param layers per layer, the cache decode steps read and maintain
   */
  setDecodeCaches(layers: readonly KvLayerBinding[]): void {
    if (layers === this.#decodeBound) return;
    this.#checkLayers(layers.length);
    freeGraph(this.#decode);
    this.#decodeBound = layers;
    // Built on first use (#decodeOps): a prompt's first token needs only the prompt
    // graph, so the decode graph's pipelines compile after that token is out.
    this.#decode = { ops: [], owned: [] };
  }

  /** The decode graph's ops, built over the bound caches on first use. */
  get #decodeOps(): readonly NamedDispatch[] {
    if (this.#decode.ops.length === 0 && this.#decodeBound) {
      const graph = this.#graph(1, this.token, this.#decodeBound);
      this.#decodeHead ??= this.#makeDecodeHead();
      this.#decode = { ops: [...graph.ops, this.#decodeHead], owned: graph.owned };
    }
    return this.#decode.ops;
  }

  /**
   * Builds the prompt-chunk graph over a KV cache the chunks write at slot =
   * position (the same bindings and rows again are a no-op). The graph it
   * replaces is freed.
   *
   * @param layers per layer, the cache prompt chunks write and what runs after their attention
   * @param rows most tokens a chunk will have (2 to max_batch; default max_batch): the
   *   dispatches cover this many rows, so a short prompt does not pay for max_batch. A
   *   larger chunk later rebuilds the graph at max_batch.
   */
  setPrefillCaches(layers: readonly KvLayerBinding[], rows = this.maxBatch): void {
    const T = Math.min(this.maxBatch, Math.max(2, rows));
    if (layers === this.#prefillBound && T === this.#prefillRows) return;
    this.#checkLayers(layers.length);
    freeGraph(this.#prefill);
    this.#prefillBound = layers;
    this.#prefillRows = this.maxBatch > 1 ? T : 0;
    this.#prefill = this.maxBatch > 1 ? this.#graph(T, this.ids, layers) : { ops: [], owned: [] };
  }

  /** The ops of one step of up to T tokens, through the final norm. */
  #graph(T: number, ids: GPUBuffer, caches: readonly KvLayerBinding[]): Graph {
    const graph: Graph = { ops: [], owned: [] };
    const { x, xb } = this.#a;
    const { nEmbd, rmsEps: eps } = this.hparams;
    const w = this.#w;
    const add = (name: string, own: boolean, ...ops: Dispatch[]) => {
      for (const op of ops) {
        graph.ops.push({ name, op });
        if (own) graph.owned.push(op);
      }
    };
    const step = this.step;
    // embedding
    add(
      "embedding",
      true,
      createGetRows(this.#rt, { table: w.tokenEmbd, ids, out: x, maxTokens: T, step }),
    );
    // layers
    caches.forEach((cache, l) => this.#layer(l, T, cache, add));
    // final norm (decode: fused into lm_head's input)
    if (T > 1 || !this.#fuseNorms) {
      add(
        "output_norm",
        true,
        createRmsNorm(this.#rt, { x, weight: w.outputNorm, out: xb, rows: T, n: nEmbd, eps }),
      );
    }
    return graph;
  }

  /**
   * One transformer layer of a step of up to T tokens (T = 1: decode), in
   * llama2.c's order; `add(name, own, ...ops)` records ops, `own` when this
   * graph created them (the KV cache's ops belong to the cache).
   */
  #layer(
    l: number,
    T: number,
    cache: KvLayerBinding,
    add: (name: string, own: boolean, ...ops: Dispatch[]) => void,
  ): void {
    const rt = this.#rt;
    const hp = this.hparams;
    const { nHead, nHeadKv, headDim, nEmbd, nFf, rmsEps: eps } = hp;
    const { x, xb, q, k, v, att, gate, up, hb } = this.#a;
    const L = this.#w.layers[l]!;
    const step = this.step;
    const label = `blk.${l}`;
    const decode = T === 1;
    const proj = (
      wt: GpuWeight,
      input: GPUBuffer,
      out: GPUBuffer,
      acc = false,
      fused: Fused = {},
    ) => this.#proj(wt, input, out, T, acc, fused);
    // The RMS-normed residual as a mat-vec input: read through the norm in decode
    // when fused, else normed into xb by its own dispatch.
    const normed = (name: string, weight: GPUBuffer) => {
      if (decode && this.#fuseNorms) return { input: x, fused: { rmsNorm: { weight, eps } } };
      add(name, true, createRmsNorm(rt, { x, weight, out: xb, rows: T, n: nEmbd, eps, label }));
      return { input: xb, fused: {} };
    };

    // rmsnorm
    const attnIn = normed("attn_norm", L.attnNorm);
    // qkv (+ bias)
    add(
      "qkv",
      true,
      proj(L.wq, attnIn.input, q, false, attnIn.fused),
      proj(L.wk, attnIn.input, k, false, attnIn.fused),
      proj(L.wv, attnIn.input, v, false, attnIn.fused),
    );
    for (
      const [bias, out, n] of [[L.bq, q, nHead], [L.bk, k, nHeadKv], [L.bv, v, nHeadKv]] as const
    ) {
      if (bias) {
        add("qkv_bias", true, createAddBias(rt, { a: out, bias, rows: T, n: n * headDim, label }));
      }
    }
    // rope
    const rope = this.#rope;
    add("rope", true, createRope(rt, { q, k, nHead, nHeadKv, maxTokens: T, step, rope, label }));
    // kv write: where the cache says (a prompt chunk and the plain cache: slot = position)
    if (cache.write) add("kv_write", false, cache.write);
    else add("kv_write", true, this.#kvWrite(cache, T, label));
    // attention over the layer's cache (decode: adding each slot's attention into its score)
    add("attention", true, this.#attention(cache, T, label));
    // the cache's ops after attention (prefill: its scores; decode: its eviction)
    add(decode ? "kv_evict" : "kv_stats", false, ...cache.afterAttention);
    // wo + residual
    add("wo", true, proj(L.wo, att, x, true));
    // ffn norm
    const ffnIn = normed("ffn_norm", L.ffnNorm);
    // gate/up
    add(
      "gate_up",
      true,
      proj(L.wGate, ffnIn.input, gate, false, ffnIn.fused),
      proj(L.wUp, ffnIn.input, up, false, ffnIn.fused),
    );
    // silu·mul, then down + residual (decode: silu·mul fused into down's input)
    if (decode && this.#fuseSilu) {
      add("down", true, proj(L.wDown, gate, x, true, { siluUp: up }));
    } else {
      add("silu_mul", true, createSiluMul(rt, { gate, up, out: hb, n: T * nFf, label }));
      add("down", true, proj(L.wDown, hb, x, true));
    }
  }

  /** Writes a step's K/V rows into slot = position of a cache. */
  #kvWrite(cache: KvLayerBinding, T: number, label: string): Dispatch {
    const { k, v } = this.#a;
    const { nHeadKv, headDim } = this.hparams;
    const { kCache, vCache, nSlots } = cache;
    const step = this.step;
    return createKvWrite(this.#rt, {
      k,
      v,
      kCache,
      vCache,
      nHeadKv,
      headDim,
      nSlots,
      maxTokens: T,
      step,
      label,
    });
  }

  /** Attention of a step's queries over a layer's cache: the decode or the prompt-chunk kernel. */
  #attention(cache: KvLayerBinding, T: number, label: string): Dispatch {
    const { q, att: out, lse } = this.#a;
    const { kCache, vCache } = cache;
    const shape = { ...this.#shape, nSlots: cache.nSlots };
    const step = this.step;
    if (T > 1) {
      const scratch = this.#prefillScratch;
      return createAttentionPrefill(this.#rt, {
        q,
        kCache,
        vCache,
        out,
        lse,
        shape,
        step,
        maxTokens: T,
        scratch,
        label,
      });
    }
    return createAttentionDecode(this.#rt, {
      q,
      kCache,
      vCache,
      out,
      shape,
      step,
      scratch: this.#decodeScratch,
      label,
      ...(cache.scores ? { scores: cache.scores } : {}),
      ...(cache.kvOffset ? { kvOffset: cache.kvOffset } : {}),
    });
  }

  /** A projection: a mat-vec for one token (with input fusions), a tiled mat-mul for a chunk. */
  #proj(
    weight: GpuWeight,
    input: GPUBuffer,
    output: GPUBuffer,
    T: number,
    accumulate: boolean,
    fused: Fused = {},
  ): Dispatch {
    const rt = this.#rt;
    return T === 1
      ? createMatvec(rt, { weight, x: input, y: output, accumulate, ...fused })
      : createMatmul(rt, {
        weight,
        x: input,
        y: output,
        maxTokens: T,
        step: this.step,
        accumulate,
      });
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
      for (const op of this.#decodeOps) op.op.encode(pass);
      return pass;
    }
    this.encodePromptBody(encoder, T);
    return this.encodePromptHead(encoder, options);
  }

  /**
   * Records a prompt chunk's graph up to its final-normed rows, and copies the
   * last row for {@linkcode encodePromptHead}. A chunk before the last needs
   * nothing more; submitting this before the head is recorded lets the GPU run
   * the chunk while the head's pipeline compiles (first use).
   *
   * @param encoder a command encoder with no open pass
   * @param T tokens in the chunk, as passed to {@linkcode writeInputs}
   */
  encodePromptBody(encoder: GPUCommandEncoder, T: number): void {
    if (this.#prefill.ops.length === 0) {
      throw new RangeError("Cannot run a multi-token step: this forward pass has max_batch 1");
    }
    if (T > this.#prefillRows) this.setPrefillCaches(this.#prefillBound!, this.maxBatch);
    const body = encoder.beginComputePass({ label: "prefill" });
    for (const op of this.#prefill.ops) op.op.encode(body);
    body.end();
    // The last row's final-normed state feeds the lm_head of the step's last token.
    const nEmbd = this.hparams.nEmbd;
    encoder.copyBufferToBuffer(this.#a.xb, (T - 1) * nEmbd * 4, this.#a.last, 0, nEmbd * 4);
  }

  /**
   * Records the lm_head of the last prompt chunk recorded by
   * {@linkcode encodePromptBody} (in this or an earlier submission).
   *
   * @param encoder the step's command encoder
   * @param options `allLogits`: fill {@linkcode logitsAll} too; `timestampWrites` for the pass
   * @returns the open compute pass, for the caller to add the sampler and end
   */
  encodePromptHead(
    encoder: GPUCommandEncoder,
    options: { allLogits?: boolean; timestampWrites?: GPUComputePassTimestampWrites } = {},
  ): GPUComputePassEncoder {
    if (options.allLogits && !this.logitsAll) {
      throw new RangeError("Cannot return every row's logits: allLogits is off");
    }
    const pass = encoder.beginComputePass(
      options.timestampWrites
        ? { label: "lm_head", timestampWrites: options.timestampWrites }
        : { label: "lm_head" },
    );
    if (options.allLogits) { for (const op of this.#prefillAllHead) op.op.encode(pass); }
    this.#prefillHead ??= this.#makePrefillHead();
    this.#prefillHead.op.encode(pass);
    return pass;
  }

  /** Number of dispatches of one decode step (timestamp slots {@linkcode encodeDecodeTimed} needs: 2 each). */
  get decodeDispatchCount(): number {
    return this.#decodeOps.length;
  }

  /**
   * Records one decode step with every dispatch in its own compute pass,
   * each timed by `timer` under its step name (for per-kernel GPU times;
   * slower than {@linkcode encode}).
   *
   * @param encoder the step's command encoder
   * @param timer a timer for at least {@linkcode decodeDispatchCount} + `extra.length` passes
   * @param extra dispatches to time after the forward pass (e.g. the sampler), with their names
   */
  encodeDecodeTimed(
    encoder: GPUCommandEncoder,
    timer: GpuTimer,
    extra: readonly NamedDispatch[] = [],
  ): void {
    for (const { name, op } of [...this.#decodeOps, ...extra]) {
      const pass = encoder.beginComputePass(timer.passDescriptor(name));
      op.encode(pass);
      pass.end();
    }
  }

  /** Frees the buffers and ops this forward pass created (not the weights, not the KV cache's). */
  destroy(): void {
    freeGraph(this.#decode);
    freeGraph(this.#prefill);
    freeGraph(this.#heads);
    this.#decode = this.#prefill = { ops: [], owned: [] };
    this.#decodeBound = this.#prefillBound = undefined;
    this.#prefillRows = 0;
    for (const b of this.#owned) b.destroy();
  }
}

/** Frees what a graph's ops created. */
function freeGraph(graph: Graph): void {
  for (const op of graph.owned) op.destroy();
}
