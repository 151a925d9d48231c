/**
 * The batched decode step: one token for each of up to `maxSeqs` sequences
 * in one command submission. What reads the weights runs once over the B
 * rows (embedding, the norms, the Q/K/V, output, gate/up/down projections and
 * the lm_head as batched mat-vecs); what reads a sequence's own state runs per
 * slot (`batch_slot.ts`: RoPE, KV write, attention over its cache, the
 * cache's eviction and merge, its sampler). Rows move between the batch's
 * buffers and the slots' one-row buffers by buffer copies between compute
 * passes, so every per-sequence kernel is the one a lone session runs. A
 * step of one sequence runs the projections as the lone session's mat-vecs;
 * a step of more through the batched mat-vec (`matvec_batch.ts`), which reads
 * each weight block once per group of 8 rows (the prompt's tiled mat-mul
 * computes whole 64-token tiles, which a CPU adapter pays for in full; it
 * stays only for a weight whose rows are not whole 8-element groups).
 *
 * Per layer: [norm, qkv] → copy q/k/v rows to the slots → [each slot's
 * rope, kv write, attention, evict] → copy the attention rows back →
 * [wo, ffn norm, gate/up, silu·mul, down]; then [final norm, lm_head] →
 * copy logits rows to the slots → [each slot's sampler] → copy each token
 * into the read-back buffer.
 *
 * @module
 */

import { createStorage } from "../gpu/buffers.ts";
import { createAddBias } from "../gpu/ops/add.ts";
import { createGetRows } from "../gpu/ops/get_rows.ts";
import { createMatmul } from "../gpu/ops/matmul.ts";
import { createMatvec } from "../gpu/ops/matvec.ts";
import {
  createMatvecBatch,
  MATVEC_BATCH_INPUT_USAGE,
  matvecBatchFits,
  matvecBatchInputBytes,
} from "../gpu/ops/matvec_batch.ts";
import { createRmsNorm } from "../gpu/ops/rms_norm.ts";
import { createSiluMul } from "../gpu/ops/silu_mul.ts";
import type { Dispatch, GpuRuntime } from "../gpu/runtime.ts";
import { createStepBuffer, writeStep } from "../gpu/step.ts";
import type { GpuWeight } from "../gpu/weights.ts";
import type { GpuModelWeights } from "../model/gpu_weights.ts";
import type { ModelHParams } from "../model/hparams.ts";
import type { GpuTimer } from "../gpu/timing.ts";
import type { NamedDispatch } from "../model/forward.ts";
import type { BatchSlot } from "./batch_slot.ts";

/** One layer's shared ops: before the per-sequence part, and after it. */
interface LayerOps {
  readonly pre: readonly NamedDispatch[];
  readonly post: readonly NamedDispatch[];
}

/** One item of a step: a named dispatch, or buffer copies between passes. */
/** The shared ops of a step: per layer, then the head. */
interface StepGraph {
  readonly layers: readonly LayerOps[];
  readonly head: readonly NamedDispatch[];
}

type StepItem = NamedDispatch | { readonly copy: (encoder: GPUCommandEncoder) => void };

/** The batch's (maxSeqs, ·) activation buffers and the ops over them. */
export class BatchForward {
  /** Most sequences per step. */
  readonly maxSeqs: number;
  /** Bytes of the batch's activation buffers. */
  readonly scratchBytes: number;
  readonly #rt: GpuRuntime;
  readonly #hp: ModelHParams;
  readonly #step: GPUBuffer;
  readonly #buffers: Record<string, GPUBuffer>;
  readonly #embed: Dispatch;
  readonly #many: StepGraph;
  readonly #one: StepGraph;
  readonly #ops: Dispatch[] = [];
  /** Rows of the step being recorded. */
  #rows = 1;

  /**
   * @param rt GPU runtime
   * @param hp the model's hyper-parameters
   * @param w the model's weights
   * @param maxSeqs most sequences decoded together
   */
  constructor(rt: GpuRuntime, hp: ModelHParams, w: GpuModelWeights, maxSeqs: number) {
    this.#rt = rt;
    this.#hp = hp;
    this.maxSeqs = maxSeqs;
    const B = maxSeqs;
    const { nEmbd, nHead, nHeadKv, headDim, nFf, nVocab } = hp;
    const f32 = (n: number, label: string) => createStorage(rt.device, n * 4, `batch.${label}`);
    // The projections' inputs, sized and flagged for the batched mat-vec's uniform windows.
    const input = (cols: number, label: string) =>
      createStorage(
        rt.device,
        matvecBatchInputBytes(B, cols),
        `batch.${label}`,
        MATVEC_BATCH_INPUT_USAGE,
      );
    const b = this.#buffers = {
      ids: f32(B, "ids"),
      x: f32(B * nEmbd, "x"),
      xb: input(nEmbd, "xb"),
      q: f32(B * nHead * headDim, "q"),
      k: f32(B * nHeadKv * headDim, "k"),
      v: f32(B * nHeadKv * headDim, "v"),
      att: input(nHead * headDim, "att"),
      gate: f32(B * nFf, "gate"),
      up: f32(B * nFf, "up"),
      hb: input(nFf, "hidden"),
      logits: f32(B * nVocab, "logits"),
    };
    this.scratchBytes = Object.values(b).reduce((s, x) => s + x.size, 0);
    this.#step = createStepBuffer(rt.device, "batch.step");
    const built = this.#build(w, B);
    this.#embed = built.embed;
    this.#many = built.many;
    this.#one = built.one;
  }

  /**
   * The step's ops: the embedding, then the graphs for steps of one row
   * (mat-vecs) and of more (batched mat-vecs).
   */
  #build(w: GpuModelWeights, B: number): { embed: Dispatch; many: StepGraph; one: StepGraph } {
    const rt = this.#rt;
    const b = this.#buffers;
    const { nEmbd, nHead, nHeadKv, headDim, nFf, rmsEps: eps } = this.#hp;
    const step = this.#step;
    const own = (name: string, op: Dispatch): NamedDispatch => (this.#ops.push(op), { name, op });
    const norm = (name: string, x: GPUBuffer, weight: GPUBuffer, out: GPUBuffer, label: string) =>
      own(name, createRmsNorm(rt, { x, weight, out, rows: B, n: nEmbd, eps, label }));
    const embed = own(
      "embedding",
      createGetRows(rt, { table: w.tokenEmbd, ids: b.ids!, out: b.x!, maxTokens: B, step }),
    ).op;
    // Shared by both graphs: the norms, biases and SiLU·mul over the B rows.
    const attnNorms = w.layers.map((L, l) =>
      norm("attn_norm", b.x!, L.attnNorm, b.xb!, `batch.blk.${l}`)
    );
    const ffnNorms = w.layers.map((L, l) =>
      norm("ffn_norm", b.x!, L.ffnNorm, b.xb!, `batch.blk.${l}`)
    );
    const silu = w.layers.map((_, l) =>
      own(
        "silu_mul",
        createSiluMul(rt, {
          gate: b.gate!,
          up: b.up!,
          out: b.hb!,
          n: B * nFf,
          label: `batch.blk.${l}`,
        }),
      )
    );
    const biases = w.layers.map((L, l) =>
      ([[L.bq, b.q!, nHead], [L.bk, b.k!, nHeadKv], [L.bv, b.v!, nHeadKv]] as const).flatMap(
        ([bias, out, n]) =>
          bias
            ? [
              own(
                "qkv_bias",
                createAddBias(rt, {
                  a: out,
                  bias,
                  rows: B,
                  n: n * headDim,
                  label: `batch.blk.${l}`,
                }),
              ),
            ]
            : [],
      )
    );
    // A step of one sequence: the lone session's mat-vecs; of more: the
    // batched mat-vec (one pass over the weights per 8 rows; it reads the
    // step's row count, so groups past it return at once).
    const graph = (
      proj: (weight: GpuWeight, x: GPUBuffer, y: GPUBuffer, acc: boolean) => Dispatch,
    ) => {
      const p = (name: string, weight: GpuWeight, x: GPUBuffer, y: GPUBuffer, acc = false) =>
        own(name, proj(weight, x, y, acc));
      const layers = w.layers.map((L, l) => ({
        pre: [
          attnNorms[l]!,
          p("qkv", L.wq, b.xb!, b.q!),
          p("qkv", L.wk, b.xb!, b.k!),
          p("qkv", L.wv, b.xb!, b.v!),
          ...biases[l]!,
        ],
        post: [
          p("wo", L.wo, b.att!, b.x!, true),
          ffnNorms[l]!,
          p("gate_up", L.wGate, b.xb!, b.gate!),
          p("gate_up", L.wUp, b.xb!, b.up!),
          silu[l]!,
          p("down", L.wDown, b.hb!, b.x!, true),
        ],
      }));
      const head = [
        norm("output_norm", b.x!, w.outputNorm, b.xb!, "batch.output_norm"),
        p("lm_head", w.output, b.xb!, b.logits!),
      ];
      return { layers, head };
    };
    const one = graph((weight, x, y, accumulate) => createMatvec(rt, { weight, x, y, accumulate }));
    // The batched mat-vec runs the step's rows only (its groups and pipelines sized to them).
    const batched = (weight: GpuWeight, x: GPUBuffer, y: GPUBuffer, accumulate: boolean) => {
      const op = createMatvecBatch(rt, { weight, x, y, maxRows: B, step, accumulate });
      return {
        encode: (pass: GPUComputePassEncoder) => op.encodeRows(pass, this.#rows),
        destroy: () => op.destroy(),
      };
    };
    const many = B > 1
      ? graph((weight, x, y, accumulate) =>
        matvecBatchFits(weight)
          ? batched(weight, x, y, accumulate)
          : createMatmul(rt, { weight, x, y, maxTokens: B, step, accumulate })
      )
      : one;
    return { embed, many, one };
  }

  /**
   * Records one decode step for `slots` (row i is `slots[i]`): each slot's
   * token from its `forward.token`, its next token into `readback` at 4·i.
   * Writes the step uniforms (the batch's and each slot's) too. With a
   * timer, every dispatch runs in its own timed pass under its step name.
   *
   * @param encoder the step's command encoder
   * @param slots the active sequences, at most {@linkcode maxSeqs}
   * @param readback a buffer of at least 4·slots.length bytes
   * @param timer times each dispatch (for per-kernel figures); at least {@linkcode dispatchCount} passes
   */
  encode(
    encoder: GPUCommandEncoder,
    slots: readonly BatchSlot[],
    readback: GPUBuffer,
    timer?: GpuTimer,
  ): void {
    const n = slots.length;
    if (n < 1 || n > this.maxSeqs) {
      throw new RangeError(`Cannot decode ${n} sequences: expected 1 to ${this.maxSeqs}`);
    }
    writeStep(this.#rt.device, this.#step, { pos: 0, nTokens: n, nKv: n, seed: 0 });
    this.#rows = n;
    for (const slot of slots) slot.writeDecodeStep();
    let pass: GPUComputePassEncoder | undefined;
    for (const item of this.#items(slots, readback)) {
      if ("copy" in item) {
        pass?.end();
        pass = undefined;
        item.copy(encoder);
      } else if (timer) {
        const timed = encoder.beginComputePass(timer.passDescriptor(item.name));
        item.op.encode(timed);
        timed.end();
      } else {
        pass ??= encoder.beginComputePass({ label: "batch.decode" });
        item.op.encode(pass);
      }
    }
    pass?.end();
  }

  /**
   * Dispatches of one step of `slots` (passes a timed step needs).
   *
   * @param slots the active sequences
   */
  dispatchCount(slots: readonly BatchSlot[]): number {
    return this.#items(slots, undefined).filter((item) => !("copy" in item)).length;
  }

  /** The step in order: named dispatches, and the row copies between them. */
  #items(slots: readonly BatchSlot[], readback: GPUBuffer | undefined): StepItem[] {
    const b = this.#buffers;
    const { nHead, nHeadKv, headDim, nVocab } = this.#hp;
    const qBytes = nHead * headDim * 4;
    const kvBytes = nHeadKv * headDim * 4;
    const logitBytes = nVocab * 4;
    const copy = (each: (e: GPUCommandEncoder, s: BatchSlot, i: number) => void): StepItem => ({
      copy: (e) => slots.forEach((s, i) => each(e, s, i)),
    });
    const items: StepItem[] = [
      copy((e, s, i) => e.copyBufferToBuffer(s.forward.token, 0, b.ids!, 4 * i, 4)),
      { name: "embedding", op: this.#embed },
    ];
    const n = slots.length;
    const graph = n === 1 ? this.#one : this.#many;
    graph.layers.forEach((layer, l) => {
      items.push(...layer.pre);
      items.push(copy((e, s, i) => {
        const io = s.forward.io;
        e.copyBufferToBuffer(b.q!, i * qBytes, io.q, 0, qBytes);
        e.copyBufferToBuffer(b.k!, i * kvBytes, io.k, 0, kvBytes);
        e.copyBufferToBuffer(b.v!, i * kvBytes, io.v, 0, kvBytes);
      }));
      for (const s of slots) items.push(...s.layerOps(l));
      items.push(copy((e, s, i) => e.copyBufferToBuffer(s.att, 0, b.att!, i * qBytes, qBytes)));
      items.push(...layer.post);
    });
    items.push(...graph.head);
    items.push(copy((e, s, i) => {
      e.copyBufferToBuffer(b.logits!, i * logitBytes, s.forward.logits, 0, logitBytes);
    }));
    for (const s of slots) items.push(s.sampleOp);
    if (readback) {
      items.push(copy((e, s, i) => e.copyBufferToBuffer(s.forward.token, 0, readback, 4 * i, 4)));
    }
    return items;
  }

  /** Frees the batch's buffers and ops (not the weights, not the slots). */
  destroy(): void {
    for (const op of this.#ops) op.destroy?.();
    for (const buffer of Object.values(this.#buffers)) buffer.destroy();
    this.#step.destroy();
  }
}
