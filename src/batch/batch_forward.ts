/**
 * The batched decode step: one token for each of up to `maxSeqs` sequences
 * in one command submission. What reads the weights runs once over the B
 * rows (embedding, the norms, the Q/K/V, output, gate/up/down projections as
 * tiled mat-muls, the lm_head); what reads a sequence's own state runs per
 * slot (`batch_slot.ts`: RoPE, KV write, attention over its cache, the
 * cache's eviction and merge, its sampler). Rows move between the batch's
 * buffers and the slots' one-row buffers by buffer copies between compute
 * passes, so every per-sequence kernel is the one a lone session runs.
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
import { createRmsNorm } from "../gpu/ops/rms_norm.ts";
import { createSiluMul } from "../gpu/ops/silu_mul.ts";
import type { Dispatch, GpuRuntime } from "../gpu/runtime.ts";
import { createStepBuffer, writeStep } from "../gpu/step.ts";
import type { GpuWeight } from "../gpu/weights.ts";
import type { GpuModelWeights } from "../model/gpu_weights.ts";
import type { ModelHParams } from "../model/hparams.ts";
import type { BatchSlot } from "./batch_slot.ts";

/** One layer's shared ops: before the per-sequence part, and after it. */
interface LayerOps {
  readonly pre: readonly Dispatch[];
  readonly post: readonly Dispatch[];
}

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
  readonly #layers: LayerOps[];
  readonly #head: readonly Dispatch[];
  readonly #ops: Dispatch[] = [];

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
    const { nEmbd, nHead, nHeadKv, headDim, nFf, nVocab, rmsEps: eps } = hp;
    const f32 = (n: number, label: string) => createStorage(rt.device, n * 4, `batch.${label}`);
    const b = this.#buffers = {
      ids: f32(B, "ids"),
      x: f32(B * nEmbd, "x"),
      xb: f32(B * nEmbd, "xb"),
      q: f32(B * nHead * headDim, "q"),
      k: f32(B * nHeadKv * headDim, "k"),
      v: f32(B * nHeadKv * headDim, "v"),
      att: f32(B * nHead * headDim, "att"),
      gate: f32(B * nFf, "gate"),
      up: f32(B * nFf, "up"),
      hb: f32(B * nFf, "hidden"),
      logits: f32(B * nVocab, "logits"),
    };
    this.scratchBytes = Object.values(b).reduce((s, x) => s + x.size, 0);
    this.#step = createStepBuffer(rt.device, "batch.step");
    const step = this.#step;
    const own = (op: Dispatch) => (this.#ops.push(op), op);
    const proj = (weight: GpuWeight, x: GPUBuffer, y: GPUBuffer, accumulate = false) =>
      own(createMatmul(rt, { weight, x, y, maxTokens: B, step, accumulate }));
    const norm = (x: GPUBuffer, weight: GPUBuffer, out: GPUBuffer, label: string) =>
      own(createRmsNorm(rt, { x, weight, out, rows: B, n: nEmbd, eps, label }));
    this.#embed = own(
      createGetRows(rt, { table: w.tokenEmbd, ids: b.ids!, out: b.x!, maxTokens: B, step }),
    );
    this.#layers = w.layers.map((L, l) => {
      const label = `batch.blk.${l}`;
      const pre = [
        norm(b.x!, L.attnNorm, b.xb!, label),
        proj(L.wq, b.xb!, b.q!),
        proj(L.wk, b.xb!, b.k!),
        proj(L.wv, b.xb!, b.v!),
      ];
      for (
        const [bias, out, n] of [[L.bq, b.q!, nHead], [L.bk, b.k!, nHeadKv], [
          L.bv,
          b.v!,
          nHeadKv,
        ]] as const
      ) {
        if (bias) {
          pre.push(own(createAddBias(rt, { a: out, bias, rows: B, n: n * headDim, label })));
        }
      }
      const post = [
        proj(L.wo, b.att!, b.x!, true),
        norm(b.x!, L.ffnNorm, b.xb!, label),
        proj(L.wGate, b.xb!, b.gate!),
        proj(L.wUp, b.xb!, b.up!),
        own(createSiluMul(rt, { gate: b.gate!, up: b.up!, out: b.hb!, n: B * nFf, label })),
        proj(L.wDown, b.hb!, b.x!, true),
      ];
      return { pre, post };
    });
    this.#head = [
      norm(b.x!, w.outputNorm, b.xb!, "batch.output_norm"),
      proj(w.output, b.xb!, b.logits!),
    ];
  }

  /**
   * Records one decode step for `slots` (row i is `slots[i]`): each slot's
   * token from its `forward.token`, its next token into `readback` at 4·i.
   * Writes the step uniforms (the batch's and each slot's) too.
   *
   * @param encoder the step's command encoder
   * @param slots the active sequences, at most {@linkcode maxSeqs}
   * @param readback a buffer of at least 4·slots.length bytes
   */
  encode(encoder: GPUCommandEncoder, slots: readonly BatchSlot[], readback: GPUBuffer): void {
    const n = slots.length;
    if (n < 1 || n > this.maxSeqs) {
      throw new RangeError(`Cannot decode ${n} sequences: expected 1 to ${this.maxSeqs}`);
    }
    const dev = this.#rt.device;
    writeStep(dev, this.#step, { pos: 0, nTokens: n, nKv: n, seed: 0 });
    for (const slot of slots) slot.writeDecodeStep();
    const b = this.#buffers;
    const { nHead, nHeadKv, headDim, nVocab } = this.#hp;
    const qBytes = nHead * headDim * 4;
    const kvBytes = nHeadKv * headDim * 4;
    slots.forEach((s, i) => encoder.copyBufferToBuffer(s.forward.token, 0, b.ids!, 4 * i, 4));
    let pass = encoder.beginComputePass({ label: "batch.decode" });
    this.#embed.encode(pass);
    this.#layers.forEach((layer, l) => {
      for (const op of layer.pre) op.encode(pass);
      pass.end();
      slots.forEach((s, i) => {
        const io = s.forward.io;
        encoder.copyBufferToBuffer(b.q!, i * qBytes, io.q, 0, qBytes);
        encoder.copyBufferToBuffer(b.k!, i * kvBytes, io.k, 0, kvBytes);
        encoder.copyBufferToBuffer(b.v!, i * kvBytes, io.v, 0, kvBytes);
      });
      pass = encoder.beginComputePass({ label: "batch.sequences" });
      for (const s of slots) s.encodeLayer(pass, l);
      pass.end();
      slots.forEach((s, i) => encoder.copyBufferToBuffer(s.att, 0, b.att!, i * qBytes, qBytes));
      pass = encoder.beginComputePass({ label: "batch.decode" });
      for (const op of layer.post) op.encode(pass);
    });
    for (const op of this.#head) op.encode(pass);
    pass.end();
    const logitBytes = nVocab * 4;
    slots.forEach((s, i) => {
      encoder.copyBufferToBuffer(b.logits!, i * logitBytes, s.forward.logits, 0, logitBytes);
    });
    pass = encoder.beginComputePass({ label: "batch.sample" });
    for (const s of slots) s.encodeSample(pass);
    pass.end();
    slots.forEach((s, i) => encoder.copyBufferToBuffer(s.forward.token, 0, readback, 4 * i, 4));
  }

  /** Frees the batch's buffers and ops (not the weights, not the slots). */
  destroy(): void {
    for (const op of this.#ops) op.destroy?.();
    for (const buffer of Object.values(this.#buffers)) buffer.destroy();
    this.#step.destroy();
  }
}
