/**
 * The GPU op that turns the step's logits into the next token id, chosen from
 * the sampling settings: greedy argmax at temperature 0.
 *
 * @module
 */

import { createArgmax } from "../gpu/ops/argmax.ts";
import type { Dispatch, GpuRuntime } from "../gpu/runtime.ts";
import type { GpuForward } from "./forward.ts";

/** Sampling settings, with llama.cpp's meanings. */
export interface SamplerParams {
  /** Softmax temperature; 0 or less means greedy. */
  readonly temperature: number;
  /** Keep the k most likely tokens (0: off). */
  readonly topK: number;
  /** Keep the smallest set whose probability reaches p (1: off). */
  readonly topP: number;
  /** Drop tokens less likely than minP × the top probability (0: off). */
  readonly minP: number;
  /** Repetition penalty over the last `repeatLastN` tokens (1: off). */
  readonly repeatPenalty: number;
  /** How many recent tokens the repetition penalty looks at. */
  readonly repeatLastN: number;
  /** Random seed: the same seed gives the same text. */
  readonly seed: number;
}

/**
 * Creates the sampler dispatch writing the next token into `forward.token[0]`.
 *
 * @param rt GPU runtime
 * @param forward the forward pass whose logits are sampled
 * @param params sampling settings
 */
export function createTokenSampler(
  rt: GpuRuntime,
  forward: GpuForward,
  params: SamplerParams,
): Dispatch {
  if (params.temperature > 0) {
    throw new RangeError("Cannot sample at a temperature above 0 yet: only greedy decoding runs");
  }
  return createArgmax(rt, {
    logits: forward.logits,
    out: forward.token,
    nVocab: forward.hparams.nVocab,
  });
}
