/**
 * The tensors of one transformer block, generic over how a matrix and a
 * vector are held (packed bytes on the CPU, buffers on the GPU), and the one
 * loop that loads them in file-name order for every layer.
 *
 * @module
 */

import type { ModelHParams } from "./hparams.ts";
import { type BlockTensor, blockTensorName } from "./tensor_names.ts";

/** One block's weights: matrices as `M`, norm and bias vectors as `V`. */
export interface LayerTensors<M, V> {
  /** (n_embd) */
  readonly attnNorm: V;
  /** (n_head·head_dim rows, n_embd cols) */
  readonly wq: M;
  /** (n_head_kv·head_dim rows, n_embd cols) */
  readonly wk: M;
  /** (n_head_kv·head_dim rows, n_embd cols) */
  readonly wv: M;
  /** (n_head·head_dim), qwen2 only */
  readonly bq?: V;
  /** (n_head_kv·head_dim), qwen2 only */
  readonly bk?: V;
  /** (n_head_kv·head_dim), qwen2 only */
  readonly bv?: V;
  /** (n_embd rows, n_head·head_dim cols) */
  readonly wo: M;
  /** (n_embd) */
  readonly ffnNorm: V;
  /** (n_ff rows, n_embd cols) */
  readonly wGate: M;
  /** (n_ff rows, n_embd cols) */
  readonly wUp: M;
  /** (n_embd rows, n_ff cols) */
  readonly wDown: M;
}

/** How to load one matrix and one vector by tensor name. */
export interface TensorLoaders<M, V> {
  /** Loads a 2-D weight. */
  matrix(name: string): Promise<M>;
  /** Loads a 1-D norm or bias. */
  vector(name: string): Promise<V>;
}

/**
 * Loads every block's tensors, layer by layer.
 *
 * @param hp the model's hyper-parameters (layers, whether Q/K/V have biases)
 * @param load how to load a matrix and a vector
 * @returns one entry per layer
 */
export async function loadLayerTensors<M, V>(
  hp: ModelHParams,
  load: TensorLoaders<M, V>,
): Promise<LayerTensors<M, V>[]> {
  const layers: LayerTensors<M, V>[] = [];
  for (let l = 0; l < hp.nLayer; l++) {
    const name = (kind: BlockTensor) => blockTensorName(l, kind);
    const biases = hp.hasQkvBias
      ? {
        bq: await load.vector(name("attnQBias")),
        bk: await load.vector(name("attnKBias")),
        bv: await load.vector(name("attnVBias")),
      }
      : {};
    layers.push({
      attnNorm: await load.vector(name("attnNorm")),
      wq: await load.matrix(name("attnQ")),
      wk: await load.matrix(name("attnK")),
      wv: await load.matrix(name("attnV")),
      ...biases,
      wo: await load.matrix(name("attnOutput")),
      ffnNorm: await load.vector(name("ffnNorm")),
      wGate: await load.matrix(name("ffnGate")),
      wUp: await load.matrix(name("ffnUp")),
      wDown: await load.matrix(name("ffnDown")),
    });
  }
  return layers;
}
