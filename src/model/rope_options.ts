/**
 * The RoPE settings of a model, shared by the GPU forward pass and its CPU
 * reference so both rotate identically.
 *
 * @module
 */

import type { RopeOptions } from "../gpu/ops/rope_freqs.ts";
import type { ModelHParams } from "./hparams.ts";

/**
 * RoPE options for a model: style, sizes, base, and per-pair frequency
 * divisors combining `rope_freqs.weight` and linear position scaling.
 *
 * @param hp the model's hyper-parameters
 * @param ropeFreqs `rope_freqs.weight` values, when the model has them
 * @returns options for `rope()` and the rope kernel
 */
export function ropeOptionsFor(hp: ModelHParams, ropeFreqs?: Float32Array): RopeOptions {
  const factor = hp.ropeScaling?.factor ?? 1;
  const base = {
    style: hp.ropeStyle,
    headDim: hp.headDim,
    ropeDim: hp.ropeDim,
    freqBase: hp.ropeFreqBase,
  };
  if (!ropeFreqs && factor === 1) return base;
  // Dividing the frequency by `factor` is the same as dividing the position by it.
  const freqFactors = new Float32Array(hp.ropeDim / 2); // (rope_dim / 2)
  for (let i = 0; i < freqFactors.length; i++) freqFactors[i] = (ropeFreqs?.[i] ?? 1) * factor;
  return { ...base, freqFactors };
}
