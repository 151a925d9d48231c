/**
 * Small random models built directly as {@linkcode ReferenceWeights}, for
 * forward-pass tests that need a feature the test files lack (biases, tied
 * embeddings, RoPE scaling).
 *
 * @module
 */

import { GgmlType } from "../../src/gguf/ggml_type.ts";
import type { ModelHParams } from "../../src/model/hparams.ts";
import type {
  LayerWeights,
  PackedMatrix,
  ReferenceWeights,
} from "../../src/reference/model_weights.ts";
import { makeRng, randn } from "../../src/reference/prng.ts";

/** A 2-layer GQA llama shape: 24 wide, 4 heads of 6, 2 KV heads, 40 tokens. */
export const SMALL_HPARAMS: ModelHParams = {
  arch: "llama",
  name: "synthetic",
  nVocab: 40,
  nCtxTrain: 32,
  nEmbd: 24,
  nLayer: 2,
  nHead: 4,
  nHeadKv: 2,
  headDim: 6,
  nFf: 36,
  ropeDim: 6,
  ropeStyle: "norm",
  ropeFreqBase: 10000,
  hasRopeFreqs: false,
  rmsEps: 1e-5,
  tiedEmbeddings: false,
  hasQkvBias: false,
};

/** Options of {@linkcode syntheticWeights}. */
export interface SyntheticOptions {
  /** PRNG seed. */
  seed?: number;
  /** RoPE divisors to attach as `rope_freqs`. */
  ropeFreqs?: Float32Array;
}

/** Random F32 weights (N(0, 0.3²) matrices, norms near 1, biases when `hp.hasQkvBias`). */
export function syntheticWeights(
  hp: ModelHParams,
  options: SyntheticOptions = {},
): ReferenceWeights {
  const rng = makeRng(options.seed ?? 1);
  const values = (n: number, scale: number, offset = 0) =>
    Float32Array.from({ length: n }, () => offset + scale * randn(rng));
  const matrix = (name: string, rows: number, cols: number): PackedMatrix => ({
    name,
    type: GgmlType.F32,
    bytes: new Uint8Array(values(rows * cols, 0.3).buffer),
    rows,
    cols,
  });
  const q = hp.nHead * hp.headDim;
  const kv = hp.nHeadKv * hp.headDim;
  const layers: LayerWeights[] = [];
  for (let l = 0; l < hp.nLayer; l++) {
    layers.push({
      attnNorm: values(hp.nEmbd, 0.1, 1),
      wq: matrix(`blk.${l}.attn_q.weight`, q, hp.nEmbd),
      wk: matrix(`blk.${l}.attn_k.weight`, kv, hp.nEmbd),
      wv: matrix(`blk.${l}.attn_v.weight`, kv, hp.nEmbd),
      ...(hp.hasQkvBias ? { bq: values(q, 0.5), bk: values(kv, 0.5), bv: values(kv, 0.5) } : {}),
      wo: matrix(`blk.${l}.attn_output.weight`, hp.nEmbd, q),
      ffnNorm: values(hp.nEmbd, 0.1, 1),
      wGate: matrix(`blk.${l}.ffn_gate.weight`, hp.nFf, hp.nEmbd),
      wUp: matrix(`blk.${l}.ffn_up.weight`, hp.nFf, hp.nEmbd),
      wDown: matrix(`blk.${l}.ffn_down.weight`, hp.nEmbd, hp.nFf),
    });
  }
  const tokenEmbd = matrix("token_embd.weight", hp.nVocab, hp.nEmbd);
  return {
    hparams: hp,
    tokenEmbd,
    outputNorm: values(hp.nEmbd, 0.1, 1),
    output: hp.tiedEmbeddings ? tokenEmbd : matrix("output.weight", hp.nVocab, hp.nEmbd),
    ...(options.ropeFreqs ? { ropeFreqs: options.ropeFreqs } : {}),
    layers,
  };
}
