/**
 * The GPU forward pass: one transformer recipe for every step — a prompt
 * chunk of one sequence, a decode token of one sequence, and a decode step of
 * many sequences. `#layer` builds one layer and reads like llama2.c's
 * `forward()`; the CPU reference in `src/reference/forward.ts` has the same
 * step comments in the same order. What reads the weights runs once over the
 * step's rows; the cache stage (RoPE, the KV write, attention, the cache's
 * after-attention ops) runs per sequence over its own rows
 * (`cache_stage.ts`), the way the twin's `AttendStep` does. A sequence that
 * shares the forward's buffers (a lone session) reads its rows in place; a
 * sequence of a batch has its own one-row buffers, and its rows move by
 * buffer copies between compute passes.
 *
 * Projections pick their kernel by the step's row count in one place
 * ({@linkcode projectionKind}): a mat-vec for one row, the batched mat-vec for
 * a few, the tiled mat-mul for many.
 *
 * @module
 */

import { createStorage } from "../gpu/buffers.ts";
import { createAddBias } from "../gpu/ops/add.ts";
import { type AttentionScratch, createAttentionScratch } from "../gpu/ops/attention.ts";
import { createGetRows } from "../gpu/ops/get_rows.ts";
import { createMatmul } from "../gpu/ops/matmul.ts";
import { createMatvec, type MatvecOptions } from "../gpu/ops/matvec.ts";
import {
  createMatvecBatch,
  MATVEC_BATCH_INPUT_USAGE,
  matvecBatchBestRows,
  matvecBatchFits,
  matvecBatchInputBytes,
} from "../gpu/ops/matvec_batch.ts";
import { createRmsNorm } from "../gpu/ops/rms_norm.ts";
import { createSiluMul } from "../gpu/ops/silu_mul.ts";
import type { Dispatch, GpuRuntime } from "../gpu/runtime.ts";
import { createStepBuffer, writeStep } from "../gpu/step.ts";
import { createTimer, type GpuTimer } from "../gpu/timing.ts";
import type { GpuWeight } from "../gpu/weights.ts";
import type { KvLayerBinding } from "../kv/cache.ts";
import {
  type CacheStage,
  createCacheStage,
  type NamedDispatch,
  type StageIo,
} from "./cache_stage.ts";
import type { GpuModelWeights } from "./gpu_weights.ts";
import type { ModelHParams } from "./hparams.ts";
import { ropeOptionsFor } from "./rope_options.ts";

export type { CacheStage, NamedDispatch, StageIo } from "./cache_stage.ts";

/** Sizes of a forward pass's buffers. */
export interface ForwardOptions {
  /** Context length: the most positions a sequence reaches (sizes the attention scratch). */
  readonly nCtx: number;
  /** Most prompt tokens per prefill chunk (default 128). */
  readonly maxBatch?: number;
  /** Most sequences one decode step advances (default 1). */
  readonly maxSeqs?: number;
  /** Keep room for every row's logits, so a chunk can return them all. */
  readonly allLogits?: boolean;
  /**
   * Fuse a one-row step's RMS norms and SiLU·mul into the input reads of the
   * mat-vecs that consume them (fewer dispatches, more reads of the activation
   * per workgroup). Default: on a CPU fallback adapter, where every dispatch
   * costs ~0.1 ms whatever its size; off on GPUs.
   */
  readonly fuseDecode?: boolean;
  /** Most rows a step's projections run through the batched mat-vec (default {@linkcode BATCHED_MATVEC_MAX_ROWS}). */
  readonly batchedRows?: number;
}

/** One sequence as a step runs it: its cache stage, its buffers, its sampler, its position. */
export interface StepSequence {
  /** Position of the next token fed (a decode step moves it on). */
  position: number;
  /** Its sampler's seed. */
  readonly seed: number;
  /** Its buffers (the forward's own {@linkcode GpuForward.io} for a lone sequence). */
  readonly io: StageIo;
  /** Its decode stage: per layer, RoPE, the KV write, attention and after-attention ops. */
  readonly stage: CacheStage;
  /** Its sampler: `io.logits` → `io.token[0]`. */
  readonly sampler: Dispatch;
}

/**
 * Rows up to which a step's projections may run the batched mat-vec (more: the tiled mat-mul);
 * each weight runs it only up to what its kernel is faster for (`matvecBatchBestRows`). On
 * lavapipe matvec_rows' batch prefilled 64 rows of the full-size Qwen2.5-0.5B and Llama-3.2-1B
 * shapes 1.2-2x faster than the mat-mul, 128 rows slower
 * (docs/results/2026-12-06-short-prompts.md).
 */
export const BATCHED_MATVEC_MAX_ROWS = 64;

/** The kernel family a projection of `rows` rows runs. */
export type ProjectionKind = "matvec" | "batched" | "matmul";

/**
 * Picks the projection kernel for a step of `rows` rows: the one place the
 * forward pass decides it.
 *
 * @param rows rows in the step
 * @param batchedRows most rows for the batched mat-vec (default {@linkcode BATCHED_MATVEC_MAX_ROWS})
 * @returns `matvec` for 1, `batched` up to `batchedRows`, else `matmul`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { projectionKind } from "./forward.ts";
 * assert.deepEqual(
 *   [1, 8, 64, 128].map((rows) => projectionKind(rows)),
 *   ["matvec", "batched", "batched", "matmul"],
 * );
 * ```
 */
export function projectionKind(
  rows: number,
  batchedRows = BATCHED_MATVEC_MAX_ROWS,
): ProjectionKind {
  if (rows <= 1) return "matvec";
  return rows <= batchedRows ? "batched" : "matmul";
}

/** The activation buffers of a step of up to R rows. */
interface Activations {
  /** (R, n_embd) residual stream. */
  readonly x: GPUBuffer;
  /** (R, n_embd) normed. */
  readonly xb: GPUBuffer;
  /** (R, n_ff). */
  readonly gate: GPUBuffer;
  /** (R, n_ff). */
  readonly up: GPUBuffer;
  /** (R, n_ff) SiLU(gate)·up. */
  readonly hb: GPUBuffer;
  /** (n_embd) final-normed last row of a prompt chunk. */
  readonly last: GPUBuffer;
}

/** One layer's shared ops: before the cache stage, and after it. */
interface LayerOps {
  readonly before: readonly NamedDispatch[];
  readonly after: readonly NamedDispatch[];
}

/** The shared ops of steps of up to `rows` rows of one projection kind. */
interface RowSet {
  readonly kind: ProjectionKind;
  readonly rows: number;
  readonly embedding: NamedDispatch;
  readonly layers: readonly LayerOps[];
  /** The final norm into xb (absent when a fused one-row head reads it). */
  readonly norm: readonly NamedDispatch[];
  /** lm_head over every row (built on first use: a prompt chunk reads only its last row). */
  head?: NamedDispatch;
  readonly owned: Dispatch[];
}

/** Layers `[from, to)` of a step. */
export interface LayerRange {
  /** The first layer. */
  readonly from: number;
  /** One past the last layer. */
  readonly to: number;
}

/** One item of a step: a named dispatch, or buffer copies between compute passes. */
type StepItem = NamedDispatch | { readonly copy: (encoder: GPUCommandEncoder) => void };

/** Input fusions of a one-row mat-vec. */
type Fused = Pick<MatvecOptions, "rmsNorm" | "siluUp">;

/** Records the dispatches of a forward pass into command encoders. */
export class GpuForward {
  /** The hyper-parameters the pass runs with (KV heads repeated under `--select-per query-head`). */
  readonly hparams: ModelHParams;
  /** KV cache slots per layer. */
  readonly nCtx: number;
  /** Most tokens per prefill chunk. */
  readonly maxBatch: number;
  /** Most sequences per decode step. */
  readonly maxSeqs: number;
  /** Bytes of activations, logits, scratch and the step uniform. */
  readonly scratchBytes: number;
  /**
   * The forward's own buffers as a sequence's: the step uniform, (R) u32 ids
   * (a lone sequence's sampled token is `ids[0]`, the next step's input),
   * queries/keys/values/attention of R rows, logits (row 0: the last token's).
   */
  readonly io: StageIo;
  /** (L, n_vocab) f32 logits: row 0 the last token's; every row's with `allLogits` or a batch. */
  readonly logits: GPUBuffer;

  readonly #rt: GpuRuntime;
  readonly #w: GpuModelWeights;
  readonly #a: Activations;
  readonly #owned: GPUBuffer[] = [];
  readonly #logitRows: number;
  readonly #decodeScratch: AttentionScratch;
  readonly #promptScratch: AttentionScratch;
  readonly #rope: ReturnType<typeof ropeOptionsFor>;
  readonly #fuseNorms: boolean;
  readonly #fuseSilu: boolean;
  readonly #batchedRows: number;
  /** The shared ops by projection kind and row capacity. */
  readonly #sets = new Map<string, RowSet>();
  /** lm_head on the `last` row, made on first use (its pipeline compiles while a chunk runs). */
  #lastHead: NamedDispatch | undefined;
  /** Rows of the step being recorded (the batched mat-vec runs only these). */
  #rows = 1;

  /**
   * Creates the activation buffers; the ops are built per row count on first use.
   *
   * @param rt GPU runtime
   * @param hp the hyper-parameters to run with
   * @param w the model's weights on the GPU
   * @param options context, chunk and batch sizes
   */
  constructor(rt: GpuRuntime, hp: ModelHParams, w: GpuModelWeights, options: ForwardOptions) {
    this.#rt = rt;
    this.#w = w;
    this.hparams = hp;
    this.nCtx = options.nCtx;
    this.#batchedRows = options.batchedRows ?? BATCHED_MATVEC_MAX_ROWS;
    const { nEmbd, nHead, nHeadKv, headDim, nFf, nVocab } = hp;
    // Every row's logits must fit one storage binding: (rows, n_vocab) f32.
    const bindable = Math.floor(rt.device.limits.maxStorageBufferBindingSize / (nVocab * 4));
    this.maxSeqs = Math.max(1, options.maxSeqs ?? 1);
    if (this.maxSeqs > bindable) {
      throw new RangeError(
        `Cannot decode ${this.maxSeqs} sequences together: their logits bind at most ${bindable}`,
      );
    }
    this.maxBatch = Math.max(
      1,
      Math.min(options.maxBatch ?? 128, options.nCtx, options.allLogits ? bindable : Infinity),
    );
    const R = Math.max(this.maxBatch, this.maxSeqs);
    this.#logitRows = Math.max(this.maxSeqs, options.allLogits ? this.maxBatch : 1);
    const buf = (bytes: number, label: string, usage?: number) => {
      const b = createStorage(rt.device, bytes, label, usage);
      this.#owned.push(b);
      return b;
    };
    // A projection's input, sized and flagged for the batched mat-vec's uniform windows.
    const input = (cols: number, label: string) =>
      buf(
        Math.max(R * cols * 4, matvecBatchInputBytes(this.#batchedCapacity(R), cols)),
        label,
        MATVEC_BATCH_INPUT_USAGE,
      );

    // Buffers, sized for the largest step (R rows).
    this.#a = {
      x: buf(R * nEmbd * 4, "x"),
      xb: input(nEmbd, "xb"),
      gate: buf(R * nFf * 4, "gate"),
      up: buf(R * nFf * 4, "up"),
      hb: input(nFf, "hidden"),
      last: buf(nEmbd * 4, "last"),
    };
    this.logits = buf(this.#logitRows * nVocab * 4, "logits");
    const step = createStepBuffer(rt.device);
    this.#owned.push(step);
    this.io = {
      step,
      maxBatch: R,
      token: buf(Math.max(16, R * 4), "ids"),
      q: buf(R * nHead * headDim * 4, "q"),
      k: buf(R * nHeadKv * headDim * 4, "k"),
      v: buf(R * nHeadKv * headDim * 4, "v"),
      att: input(nHead * headDim, "attn"),
      lse: buf(R * nHead * 4, "lse"),
      logits: this.logits,
    };
    // Split-K attention partials, shared by every layer and sequence.
    const shape = { nHead, nHeadKv, headDim, nSlots: this.nCtx };
    this.#decodeScratch = createAttentionScratch(rt, shape, 1);
    this.#promptScratch = this.maxBatch > 1
      ? createAttentionScratch(rt, shape, this.maxBatch)
      : this.#decodeScratch;
    for (const sc of new Set([this.#decodeScratch, this.#promptScratch])) {
      this.#owned.push(sc.partAcc, sc.partMl);
    }
    this.scratchBytes = this.#owned.reduce((s, b) => s + b.size, 0);
    this.#rope = ropeOptionsFor(hp, w.ropeFreqs);
    const fuseDecode = options.fuseDecode ?? rt.ctx.isFallback;
    this.#fuseNorms = fuseDecode && nEmbd % 4 === 0;
    this.#fuseSilu = fuseDecode && nFf % 4 === 0;
  }

  /**
   * Creates the one-row buffers of a sequence that runs in a batch (its rows
   * are copied in and out around its cache stage).
   *
   * @param label GPU label prefix
   * @returns the buffers; the caller destroys them with {@linkcode destroyIo}
   */
  createSequenceIo(label: string): StageIo {
    const { nHead, nHeadKv, headDim, nVocab } = this.hparams;
    const f32 = (n: number, name: string) =>
      createStorage(this.#rt.device, n * 4, `${label}.${name}`);
    return {
      step: createStepBuffer(this.#rt.device, `${label}.step`),
      maxBatch: 1,
      token: f32(4, "token"),
      q: f32(nHead * headDim, "q"),
      k: f32(nHeadKv * headDim, "k"),
      v: f32(nHeadKv * headDim, "v"),
      att: f32(nHead * headDim, "att"),
      lse: f32(nHead, "lse"),
      logits: f32(nVocab, "logits"),
    };
  }

  /**
   * Builds a sequence's cache stage over a KV cache's bindings, for steps of
   * up to `rows` rows read from `io`.
   *
   * @param io the sequence's buffers
   * @param layers per layer, the cache to read and maintain
   * @param rows most rows a step will have (1 for decode)
   * @returns the stage (its owner frees it)
   */
  createStage(io: StageIo, layers: readonly KvLayerBinding[], rows = 1): CacheStage {
    if (layers.length !== this.hparams.nLayer) {
      throw new RangeError(
        `Cannot bind KV caches of ${layers.length} layers to a ${this.hparams.nLayer}-layer model`,
      );
    }
    // The split-K scratch: one row's chunking for one row, the prompt's for more.
    const scratch = rows > 1 ? this.#promptScratch : this.#decodeScratch;
    return createCacheStage(this.#rt, {
      hparams: this.hparams,
      rope: this.#rope,
      io,
      layers,
      rows,
      scratch,
    });
  }

  /**
   * The rows a prompt's cache stage covers for a prompt of `tokens` tokens: the
   * next power of two up to max_batch, so a short prompt does not pay for max_batch.
   *
   * @param tokens the prompt's length
   */
  promptRows(tokens: number): number {
    return Math.min(this.maxBatch, roundUpToPowerOfTwo(Math.max(1, tokens)));
  }

  /**
   * Writes a prompt chunk's inputs: its token ids and the step uniform.
   *
   * @param tokens the chunk's token ids (1 to max_batch)
   * @param pos position of the first token
   * @param seed sampling seed for this step
   */
  writePrompt(tokens: readonly number[], pos: number, seed: number): void {
    const T = tokens.length;
    if (T < 1 || T > this.maxBatch) {
      throw new RangeError(`Cannot run a step of ${T} tokens: expected 1 to ${this.maxBatch}`);
    }
    const dev = this.#rt.device;
    writeStep(dev, this.io.step, { pos, nTokens: T, nKv: pos + T, seed });
    dev.queue.writeBuffer(this.io.token, 0, new Uint32Array(tokens));
  }

  /**
   * Records a prompt chunk of T rows of one sequence up to its final-normed
   * rows, and copies the last row for {@linkcode encodePromptHead}. A chunk
   * before the last needs nothing more; submitting this before the head is
   * recorded lets the GPU run the chunk while the head's pipeline compiles.
   *
   * A long chunk may be recorded a range of layers at a time, each range its
   * own submission (the embedding goes with the first layer, the final norm
   * with the last), so the caller gets control between them.
   *
   * @param encoder a command encoder with no open pass
   * @param stage the sequence's prompt stage (over the forward's own {@linkcode io}), for T rows
   * @param T tokens in the chunk, as written by {@linkcode writePrompt}
   * @param layers the layers to record, `[from, to)` (default: all)
   */
  encodePromptBody(
    encoder: GPUCommandEncoder,
    stage: CacheStage,
    T: number,
    layers: LayerRange = { from: 0, to: this.hparams.nLayer },
  ): void {
    if (stage.io !== this.io) {
      throw new RangeError("Cannot run a prompt chunk over a stage bound to another sequence");
    }
    const { from, to } = layers;
    const nLayer = this.hparams.nLayer;
    if (!Number.isInteger(from) || !Number.isInteger(to) || from < 0 || to <= from || to > nLayer) {
      throw new RangeError(`Cannot record layers [${from}, ${to}) of a ${nLayer}-layer model`);
    }
    const set = this.#rowSet(T);
    const items = this.#layers(set, [stage], from, to);
    this.#encodeItems(encoder, from === 0 ? [set.embedding, ...items] : items, "prefill");
    if (to < nLayer) return;
    if (set.kind === "matvec" && this.#fuseNorms) return; // the fused head reads x
    const body = encoder.beginComputePass({ label: "output_norm" });
    for (const { op } of set.norm) op.encode(body);
    body.end();
    // The last row's final-normed state feeds the lm_head of the step's last token.
    const nEmbd = this.hparams.nEmbd;
    encoder.copyBufferToBuffer(this.#a.xb, (T - 1) * nEmbd * 4, this.#a.last, 0, nEmbd * 4);
  }

  /**
   * Records the lm_head of the last prompt chunk recorded by
   * {@linkcode encodePromptBody} (in this or an earlier submission): the last
   * row's logits into row 0 of {@linkcode logits}, or with `allRows` every
   * row's logits into rows 0..T−1.
   *
   * @param encoder the step's command encoder
   * @param T tokens of that chunk
   * @param options `allRows`: every row's logits; `timestampWrites` for the pass
   * @returns the open compute pass, for the caller to add the sampler and end
   */
  encodePromptHead(
    encoder: GPUCommandEncoder,
    T: number,
    options: { allRows?: boolean; timestampWrites?: GPUComputePassTimestampWrites } = {},
  ): GPUComputePassEncoder {
    const pass = encoder.beginComputePass(
      options.timestampWrites
        ? { label: "lm_head", timestampWrites: options.timestampWrites }
        : { label: "lm_head" },
    );
    const set = this.#rowSet(T);
    if (options.allRows || (set.kind === "matvec" && this.#fuseNorms)) {
      if (T > this.#logitRows) {
        throw new RangeError(
          `Cannot return ${T} rows' logits: this forward pass keeps ${this.#logitRows}`,
        );
      }
      this.#rows = T;
      this.#headOf(set).op.encode(pass);
    } else {
      this.#lastHead ??= this.#head(this.#a.last, 1, "matvec");
      this.#lastHead.op.encode(pass);
    }
    return pass;
  }

  /**
   * Submits one decode step: one token for each sequence (row i is
   * `seqs[i]`, fed the token its sampler left in `io.token`), each one's next
   * token sampled into its `io.token` and, with `readback`, copied to 4·i
   * there; `after` records more into the step's encoder. With a timer, every
   * dispatch runs in its own pass, timed under its step name. Each
   * sequence's position moves on by one.
   *
   * @param seqs the step's sequences (1 to {@linkcode maxSeqs})
   * @param options `readback`: a buffer of at least 4·seqs.length bytes; `after`: more commands;
   *   `timer`: times each dispatch
   */
  submitDecode(
    seqs: readonly StepSequence[],
    options: {
      readonly readback?: GPUBuffer | undefined;
      readonly after?: ((encoder: GPUCommandEncoder) => void) | undefined;
      readonly timer?: GpuTimer;
    } = {},
  ): void {
    const dev = this.#rt.device;
    const n = seqs.length;
    if (n < 1 || n > this.maxSeqs) {
      throw new RangeError(`Cannot decode ${n} sequences: expected 1 to ${this.maxSeqs}`);
    }
    // The uniforms: each sequence's own (its position and seed), and for a batch the step's rows.
    for (const s of seqs) {
      writeStep(dev, s.io.step, { pos: s.position, nTokens: 1, nKv: s.position + 1, seed: s.seed });
    }
    if (seqs[0]!.io !== this.io) {
      writeStep(dev, this.io.step, { pos: 0, nTokens: n, nKv: n, seed: 0 });
    }
    const encoder = dev.createCommandEncoder({ label: "decode" });
    this.#encodeItems(encoder, this.#decodeItems(seqs, options.readback), "decode", options.timer);
    options.timer?.resolve(encoder);
    options.after?.(encoder);
    dev.queue.submit([encoder.finish()]);
    for (const s of seqs) s.position++;
  }

  /**
   * Submits one decode step (as {@linkcode submitDecode}) with every dispatch
   * timed in its own pass: GPU timestamps when the adapter has them, else the
   * step's wall clock under `total` (`src/gpu/timing.ts`).
   *
   * @param seqs the step's sequences
   * @param readback where the sampled token ids go, as for {@linkcode submitDecode}
   * @returns milliseconds per step name, summed over layers and sequences
   */
  async profileDecode(
    seqs: readonly StepSequence[],
    readback?: GPUBuffer,
  ): Promise<Map<string, number>> {
    const passes = this.#decodeItems(seqs, undefined).filter((item) => !("copy" in item)).length;
    const timer = createTimer(this.#rt, passes);
    try {
      this.submitDecode(seqs, { readback, timer });
      return await timer.read();
    } finally {
      timer.destroy();
    }
  }

  /** Frees the buffers and ops this forward pass created (not the weights, not the sequences'). */
  destroy(): void {
    for (const set of this.#sets.values()) for (const op of set.owned) op.destroy();
    this.#sets.clear();
    this.#lastHead?.op.destroy();
    this.#lastHead = undefined;
    for (const b of this.#owned) b.destroy();
  }

  /**
   * Frees the buffers of {@linkcode createSequenceIo}.
   *
   * @param io a sequence's own buffers
   */
  static destroyIo(io: StageIo): void {
    for (const b of [io.step, io.token, io.q, io.k, io.v, io.att, io.lse, io.logits]) b.destroy();
  }

  /** The step items of a decode step of `seqs`. */
  #decodeItems(seqs: readonly StepSequence[], readback: GPUBuffer | undefined): StepItem[] {
    const n = seqs.length;
    const set = this.#rowSet(n);
    const own = this.io;
    const logitBytes = this.hparams.nVocab * 4;
    const copy = (each: (e: GPUCommandEncoder, s: StepSequence, i: number) => void): StepItem[] =>
      seqs.every((s) => s.io === own)
        ? []
        : [{ copy: (e) => seqs.forEach((s, i) => each(e, s, i)) }];
    const items: StepItem[] = [
      ...copy((e, s, i) => e.copyBufferToBuffer(s.io.token, 0, own.token, 4 * i, 4)),
      set.embedding,
      ...this.#layers(set, seqs.map((s) => s.stage)),
      ...set.norm,
      this.#headOf(set),
      ...copy((e, s, i) =>
        e.copyBufferToBuffer(own.logits, i * logitBytes, s.io.logits, 0, logitBytes)
      ),
      ...seqs.map((s) => ({ name: "sampler", op: s.sampler })),
    ];
    if (readback) {
      items.push({
        copy: (e) =>
          seqs.forEach((s, i) => e.copyBufferToBuffer(s.io.token, 0, readback, 4 * i, 4)),
      });
    }
    return items;
  }

  /**
   * Layers `[from, to)` of a step (every layer by default): the shared ops
   * around each sequence's cache stage, with its rows copied to and from its
   * own buffers when it has them.
   */
  #layers(
    set: RowSet,
    stages: readonly CacheStage[],
    from = 0,
    to = set.layers.length,
  ): StepItem[] {
    const own = this.io;
    const { nHead, nHeadKv, headDim } = this.hparams;
    const qBytes = nHead * headDim * 4;
    const kvBytes = nHeadKv * headDim * 4;
    const apart = stages.filter((s) => s.io !== own);
    const rowOf = (s: CacheStage) => stages.indexOf(s);
    const items: StepItem[] = [];
    for (let l = from; l < to; l++) {
      const layer = set.layers[l]!;
      items.push(...layer.before);
      if (apart.length > 0) {
        items.push({
          copy: (e) => {
            for (const s of apart) {
              const i = rowOf(s);
              e.copyBufferToBuffer(own.q, i * qBytes, s.io.q, 0, qBytes);
              e.copyBufferToBuffer(own.k, i * kvBytes, s.io.k, 0, kvBytes);
              e.copyBufferToBuffer(own.v, i * kvBytes, s.io.v, 0, kvBytes);
            }
          },
        });
      }
      for (const s of stages) items.push(...s.layers[l]!);
      if (apart.length > 0) {
        items.push({
          copy: (e) => {
            for (const s of apart) {
              e.copyBufferToBuffer(s.io.att, 0, own.att, rowOf(s) * qBytes, qBytes);
            }
          },
        });
      }
      items.push(...layer.after);
    }
    return items;
  }

  /** Records step items: dispatches in compute passes (each timed in its own with a timer), copies between. */
  #encodeItems(
    encoder: GPUCommandEncoder,
    items: readonly StepItem[],
    label: string,
    timer?: GpuTimer,
  ): void {
    let pass: GPUComputePassEncoder | undefined;
    for (const item of items) {
      if ("copy" in item) {
        pass?.end();
        pass = undefined;
        item.copy(encoder);
      } else if (timer) {
        const timed = encoder.beginComputePass(timer.passDescriptor(item.name));
        item.op.encode(timed);
        timed.end();
      } else {
        pass ??= encoder.beginComputePass({ label });
        item.op.encode(pass);
      }
    }
    pass?.end();
  }

  /** Rows the batched mat-vec set serves in a forward pass of R rows. */
  #batchedCapacity(R: number): number {
    return Math.min(R, this.#batchedRows);
  }

  /**
   * The shared ops for a step of `rows` rows, built on first use for the
   * next power of two of rows (every dispatch covers its whole grid, so a
   * short step does not pay for a long one's rows).
   */
  #rowSet(rows: number): RowSet {
    const kind = projectionKind(rows, this.#batchedRows);
    const R = this.io.maxBatch;
    if (rows > R) throw new RangeError(`Cannot run a step of ${rows} rows: expected 1 to ${R}`);
    this.#rows = rows;
    const most = kind === "batched" ? this.#batchedCapacity(R) : R;
    const capacity = Math.min(most, roundUpToPowerOfTwo(rows));
    const key = `${kind}:${capacity}`;
    let set = this.#sets.get(key);
    if (!set) {
      set = this.#buildSet(kind, capacity);
      this.#sets.set(key, set);
    }
    return set;
  }

  /** Builds the shared ops of steps of up to `rows` rows of projection `kind`. */
  #buildSet(kind: ProjectionKind, rows: number): RowSet {
    const owned: Dispatch[] = [];
    const own = (name: string, op: Dispatch): NamedDispatch => (owned.push(op), { name, op });
    const w = this.#w;
    const { nEmbd, rmsEps: eps } = this.hparams;
    const { x, xb } = this.#a;
    const step = this.io.step;
    const embedding = own(
      "embedding",
      createGetRows(this.#rt, {
        table: w.tokenEmbd,
        ids: this.io.token,
        out: x,
        maxTokens: rows,
        step,
      }),
    );
    const layers = w.layers.map((_, l) => this.#layer(l, kind, rows, own));
    const fusedHead = kind === "matvec" && this.#fuseNorms;
    const norm = fusedHead ? [] : [
      own(
        "output_norm",
        createRmsNorm(this.#rt, { x, weight: w.outputNorm, out: xb, rows, n: nEmbd, eps }),
      ),
    ];
    return { kind, rows, embedding, layers, norm, owned };
  }

  /** A set's lm_head over every row into {@linkcode logits} (made on first use). */
  #headOf(set: RowSet): NamedDispatch {
    if (!set.head) {
      const fused = set.kind === "matvec" && this.#fuseNorms;
      const norm = { rmsNorm: { weight: this.#w.outputNorm, eps: this.hparams.rmsEps } };
      set.head = fused
        ? this.#head(this.#a.x, 1, "matvec", norm)
        : this.#head(this.#a.xb, Math.min(set.rows, this.#logitRows), set.kind);
      set.owned.push(set.head.op);
    }
    return set.head;
  }

  /** An lm_head over `rows` rows of `input` into {@linkcode logits}. */
  #head(input: GPUBuffer, rows: number, kind: ProjectionKind, fused: Fused = {}): NamedDispatch {
    return {
      name: "lm_head",
      op: this.#proj(kind, rows, this.#w.output, input, this.logits, false, fused),
    };
  }

  /**
   * One transformer layer for steps of up to `rows` rows whose projections
   * run `kind`, in llama2.c's order: the ops before the sequences' cache
   * stage, and after it. `own(name, op)` records an op this pass created.
   */
  #layer(
    l: number,
    kind: ProjectionKind,
    rows: number,
    own: (name: string, op: Dispatch) => NamedDispatch,
  ): LayerOps {
    const rt = this.#rt;
    const { nHead, nHeadKv, headDim, nEmbd, nFf, rmsEps: eps } = this.hparams;
    const { x, xb, gate, up, hb } = this.#a;
    const { q, k, v, att } = this.io;
    const L = this.#w.layers[l]!;
    const label = `blk.${l}`;
    const vec = kind === "matvec";
    const before: NamedDispatch[] = [];
    const after: NamedDispatch[] = [];
    let ops = before;
    const add = (name: string, op: Dispatch) => ops.push(own(name, op));
    const proj = (
      wt: GpuWeight,
      input: GPUBuffer,
      out: GPUBuffer,
      acc = false,
      fused: Fused = {},
    ) => this.#proj(kind, rows, wt, input, out, acc, fused);
    // The RMS-normed residual as a projection's input: read through the norm by a
    // fused one-row mat-vec, else normed into xb by its own dispatch.
    const normed = (name: string, weight: GPUBuffer): { input: GPUBuffer; fused: Fused } => {
      if (vec && this.#fuseNorms) return { input: x, fused: { rmsNorm: { weight, eps } } };
      add(name, createRmsNorm(rt, { x, weight, out: xb, rows, n: nEmbd, eps, label }));
      return { input: xb, fused: {} };
    };

    // rmsnorm
    const attnIn = normed("attn_norm", L.attnNorm);
    // qkv (+ bias)
    add("qkv", proj(L.wq, attnIn.input, q, false, attnIn.fused));
    add("qkv", proj(L.wk, attnIn.input, k, false, attnIn.fused));
    add("qkv", proj(L.wv, attnIn.input, v, false, attnIn.fused));
    for (
      const [bias, out, n] of [[L.bq, q, nHead], [L.bk, k, nHeadKv], [L.bv, v, nHeadKv]] as const
    ) {
      if (bias) add("qkv_bias", createAddBias(rt, { a: out, bias, rows, n: n * headDim, label }));
    }
    // rope, kv write, attention, after-attention: each sequence's cache stage (cache_stage.ts)
    ops = after;
    // wo + residual
    add("wo", proj(L.wo, att, x, true));
    // ffn norm
    const ffnIn = normed("ffn_norm", L.ffnNorm);
    // gate/up
    add("gate_up", proj(L.wGate, ffnIn.input, gate, false, ffnIn.fused));
    add("gate_up", proj(L.wUp, ffnIn.input, up, false, ffnIn.fused));
    // silu·mul, then down + residual (one fused row: silu·mul read by down's input)
    if (vec && this.#fuseSilu) {
      add("down", proj(L.wDown, gate, x, true, { siluUp: up }));
    } else {
      add("silu_mul", createSiluMul(rt, { gate, up, out: hb, n: rows * nFf, label }));
      add("down", proj(L.wDown, hb, x, true));
    }
    return { before, after };
  }

  /**
   * A projection of `rows` rows: the mat-vec (with input fusions), the
   * batched mat-vec (the step's rows only), or the tiled mat-mul.
   */
  #proj(
    kind: ProjectionKind,
    rows: number,
    weight: GpuWeight,
    x: GPUBuffer,
    y: GPUBuffer,
    accumulate: boolean,
    fused: Fused = {},
  ): Dispatch {
    const rt = this.#rt;
    const step = this.io.step;
    if (kind === "matvec") return createMatvec(rt, { weight, x, y, accumulate, ...fused });
    if (kind === "batched" && matvecBatchFits(weight) && rows <= matvecBatchBestRows(rt, weight)) {
      const op = createMatvecBatch(rt, { weight, x, y, maxRows: rows, step, accumulate });
      return {
        encode: (pass) => op.encodeRows(pass, Math.min(this.#rows, rows)),
        destroy: () => op.destroy(),
      };
    }
    return createMatmul(rt, { weight, x, y, maxTokens: rows, step, accumulate });
  }
}

/** The smallest power of two ≥ n (n ≥ 1). */
function roundUpToPowerOfTwo(n: number): number {
  return 2 ** Math.ceil(Math.log2(n));
}
