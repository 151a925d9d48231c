/**
 * A model's weights in CPU memory for the reference forward pass: matrices
 * stay packed as stored (the mat-vec twins decode them, as the GPU kernels
 * do), vectors (norm weights, biases, RoPE divisors) are dequantized to f32.
 *
 * @module
 */

import { dequantize } from "../gguf/dequantize.ts";
import { type GgmlType, rowBytes } from "../gguf/ggml_type.ts";
import type { ModelHParams } from "../model/hparams.ts";
import type { ModelFile } from "../model/model_file.ts";
import { type LayerTensors, loadLayerTensors } from "../model/layer_tensors.ts";
import { TN } from "../model/tensor_names.ts";
import { repeatHeadRows, repeatKvHParams } from "../model/repeat_kv.ts";

/** A weight matrix as stored: `rows` rows of `cols` elements in `type`. */
export interface PackedMatrix {
  /** Tensor name, for messages. */
  readonly name: string;
  /** Element type of the packed data. */
  readonly type: GgmlType;
  /** The packed rows. */
  readonly bytes: Uint8Array;
  /** Output size (ggml `ne1`). */
  readonly rows: number;
  /** Input size (ggml `ne0`). */
  readonly cols: number;
}

/** One transformer block's weights: packed matrices, f32 vectors. */
export type LayerWeights = LayerTensors<PackedMatrix, Float32Array>;

/** Every weight the reference forward pass reads. */
export interface ReferenceWeights {
  /** The model's hyper-parameters. */
  readonly hparams: ModelHParams;
  /** (n_vocab rows, n_embd cols) */
  readonly tokenEmbd: PackedMatrix;
  /** (n_embd) */
  readonly outputNorm: Float32Array;
  /** (n_vocab rows, n_embd cols): `output.weight`, or the token embedding when tied. */
  readonly output: PackedMatrix;
  /** (rope_dim / 2) per-frequency divisors, when the model has `rope_freqs.weight`. */
  readonly ropeFreqs?: Float32Array;
  /** The blocks, in order. */
  readonly layers: readonly LayerWeights[];
}

/**
 * Reads every weight of a model into memory.
 *
 * @param model an open, validated model
 * @returns the weights
 * @throws {InputError} if a tensor cannot be read
 */
export async function loadReferenceWeights(model: ModelFile): Promise<ReferenceWeights> {
  const hp = model.hparams;
  const matrix = async (name: string): Promise<PackedMatrix> => {
    const info = model.tensor(name);
    const bytes = await model.readTensor(name);
    return { name, type: info.type, bytes, rows: info.dims[1] ?? 1, cols: info.dims[0]! };
  };
  const vector = async (name: string): Promise<Float32Array> => {
    const info = model.tensor(name);
    return dequantize(info.type, await model.readTensor(name), info.elementCount);
  };
  const layers = await loadLayerTensors(hp, { matrix, vector });
  const tokenEmbd = await matrix(TN.tokenEmbd);
  return {
    hparams: hp,
    tokenEmbd,
    outputNorm: await vector(TN.outputNorm),
    output: hp.tiedEmbeddings ? tokenEmbd : await matrix(TN.output),
    ...(hp.hasRopeFreqs ? { ropeFreqs: await vector(TN.ropeFreqs) } : {}),
    layers,
  };
}

/**
 * The weights with each KV head's K and V projection rows (and biases)
 * repeated `group` times: the reference twin of `--select-per query-head`
 * (`src/model/repeat_kv.ts`).
 *
 * @param weights the model's weights
 * @param group repeat factor (`n_head / n_head_kv` for per-query-head selection)
 * @returns weights whose hyper-parameters have `n_head_kv · group` KV heads
 */
export function repeatKvWeights(weights: ReferenceWeights, group: number): ReferenceWeights {
  if (group === 1) return weights;
  const hd = weights.hparams.headDim;
  const matrix = (m: PackedMatrix): PackedMatrix => ({
    ...m,
    bytes: repeatHeadRows(m.bytes, rowBytes(m.type, m.cols), hd, group),
    rows: m.rows * group,
  });
  const vector = (v: Float32Array) =>
    new Float32Array(
      repeatHeadRows(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), 4, hd, group).buffer,
    );
  return {
    ...weights,
    hparams: repeatKvHParams(weights.hparams, group),
    layers: weights.layers.map((l) => ({
      ...l,
      wk: matrix(l.wk),
      wv: matrix(l.wv),
      ...(l.bk ? { bk: vector(l.bk) } : {}),
      ...(l.bv ? { bv: vector(l.bv) } : {}),
    })),
  };
}
