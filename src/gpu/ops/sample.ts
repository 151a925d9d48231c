/**
 * Host side of `kernels/sample.wgsl`: temperature / top-k / top-p / min-p
 * sampling with repetition penalty on the GPU, reading back only the token id.
 *
 * @module
 */

import random from "../../../kernels/_random.wgsl" with { type: "text" };
import src from "../../../kernels/sample.wgsl" with { type: "text" };
import { MAX_REPEAT_LAST_N, type SamplerParams } from "../../sample/params.ts";
import { createStorage } from "../buffers.ts";
import type { Dispatch, GpuRuntime } from "../runtime.ts";
import { STEP_WGSL } from "../step.ts";
import { bindBuffers, createParams, dispatchSteps, requireElements } from "./op_support.ts";

/** Buffers and settings of a sampling dispatch. */
export interface SampleOptions {
  /** Logits (nVocab); the repetition penalty is applied to them in place. */
  readonly logits: GPUBuffer;
  /** Receives the token id (u32) at element `outIndex`. */
  readonly out: GPUBuffer;
  /** Vocabulary size. */
  readonly nVocab: number;
  /** The step uniform; its `seed` is the random stream. */
  readonly step: GPUBuffer;
  /** Sampler settings (validated with `samplerParams`); `seed` is not used here. */
  readonly params: SamplerParams;
  /** Element of `out` to write; defaults to 0. */
  readonly outIndex?: number;
}

/** A sampling dispatch and the token history it keeps on the GPU. */
export interface SampleOp extends Dispatch {
  /** `[count, ring of the last repeatLastN tokens]` (u32); each draw appends its token. */
  readonly history: GPUBuffer;
  /**
   * Replaces the history with `tokens` (e.g. the prompt), queued on the device.
   * The random counter of the next draw is `tokens.length`.
   */
  setHistory(tokens: ArrayLike<number>): void;
}

/**
 * Creates the sampler: one single-workgroup dispatch that penalises, filters,
 * draws and appends the token to its history.
 *
 * @param rt GPU runtime
 * @param options buffers and settings
 * @returns the dispatch with its history buffer
 * @throws {RangeError} when a buffer is too small or repeatLastN is out of range
 */
export function createSample(rt: GpuRuntime, options: SampleOptions): SampleOp {
  const { logits, out, nVocab, step, params: p } = options;
  const outIndex = options.outIndex ?? 0;
  requireElements("sample", "logits", logits, nVocab, `${nVocab}`);
  requireElements("sample", "out", out, outIndex + 1, `${outIndex} + 1`);
  const lastN = p.repeatLastN;
  if (!Number.isInteger(lastN) || lastN < 0 || lastN > MAX_REPEAT_LAST_N) {
    throw new RangeError(
      `Cannot run sample: repeatLastN must be 0 to ${MAX_REPEAT_LAST_N}, got ${lastN}`,
    );
  }
  const device = rt.device;
  const history = createStorage(device, 4 * (1 + lastN), "sample.history");
  const pipeline = rt.pipelines.get({ label: "sample", code: STEP_WGSL + random + src });
  const uniform = createParams(device, "sample.params", [
    ["u", nVocab],
    ["u", p.topK],
    ["f", p.topP],
    ["f", p.minP > 0 ? Math.log(p.minP) : 0],
    ["u", p.minP > 0 ? 1 : 0],
    ["f", p.temperature > 0 ? 1 / p.temperature : 0],
    ["u", p.temperature > 0 ? 0 : 1],
    ["f", p.repeatPenalty],
    ["f", 1 / p.repeatPenalty],
    ["u", lastN],
    ["u", outIndex],
  ]);
  const bindGroup = bindBuffers(device, pipeline, "sample", [logits, history, out, step, uniform]);
  return {
    history,
    ...dispatchSteps([{ pipeline, bindGroup, grid: [1] }], [history, uniform]),
    setHistory(tokens) {
      const data = new Uint32Array(1 + lastN);
      data[0] = tokens.length;
      for (let c = Math.max(0, tokens.length - lastN); c < tokens.length; c++) {
        data[1 + (c % lastN)] = tokens[c]!;
      }
      device.queue.writeBuffer(history, 0, data);
    },
  };
}
