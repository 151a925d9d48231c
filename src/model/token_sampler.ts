/**
 * The GPU op that turns a step's logits into the next token id: argmax when
 * decoding greedily without penalties, else the full sampler chain
 * (penalties → top-k → top-p → min-p → temperature → draw).
 *
 * @module
 */

import { createArgmax } from "../gpu/ops/argmax.ts";
import { createSample } from "../gpu/ops/sample.ts";
import type { Dispatch, GpuRuntime } from "../gpu/runtime.ts";
import type { SamplerParams } from "../sample/params.ts";
import type { GpuForward } from "./forward.ts";

/** A sampler dispatch, told the sequence so far before each prompt. */
export interface TokenSampler extends Dispatch {
  /** Sets the tokens the repetition penalty and the random stream start from. */
  setHistory(tokens: ArrayLike<number>): void;
}

/**
 * Creates the sampler dispatch writing the next token into `forward.token[0]`.
 *
 * @param rt GPU runtime
 * @param forward the forward pass whose logits are sampled
 * @param params validated sampling settings
 */
export function createTokenSampler(
  rt: GpuRuntime,
  forward: GpuForward,
  params: SamplerParams,
): TokenSampler {
  const { logits, token: out, step } = forward;
  const nVocab = forward.hparams.nVocab;
  const penalised = params.repeatPenalty !== 1 && params.repeatLastN > 0;
  if (params.temperature <= 0 && !penalised) {
    const argmax = createArgmax(rt, { logits, out, nVocab });
    return {
      encode: (pass) => argmax.encode(pass),
      destroy: () => argmax.destroy(),
      setHistory: () => {},
    };
  }
  return createSample(rt, { logits, out, nVocab, step, params });
}
