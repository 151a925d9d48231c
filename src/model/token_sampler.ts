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
import type { StageIo } from "./cache_stage.ts";

/** A sampler dispatch, told the sequence so far before each prompt. */
export interface TokenSampler extends Dispatch {
  /** Sets the tokens the repetition penalty and the random stream start from. */
  setHistory(tokens: ArrayLike<number>): void;
}

/**
 * Creates the sampler dispatch writing the next token into `io.token[0]`.
 *
 * @param rt GPU runtime
 * @param nVocab vocabulary size
 * @param io a sequence's buffers: its logits (row 0 sampled), token and step (the seed)
 * @param params validated sampling settings
 */
export function createTokenSampler(
  rt: GpuRuntime,
  nVocab: number,
  io: Pick<StageIo, "logits" | "token" | "step">,
  params: SamplerParams,
): TokenSampler {
  const { logits, token: out, step } = io;
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
