/**
 * Uploading a model's weights to the GPU: matrices as their GGUF blocks (no
 * dequantized copy), norm and bias vectors as f32.
 *
 * @module
 */

import { createStorageFrom } from "../gpu/buffers.ts";
import type { GpuRuntime } from "../gpu/runtime.ts";
import { destroyGpuWeight, type GpuWeight, uploadWeight } from "../gpu/weights.ts";
import { dequantize } from "../reference/dequantize.ts";
import type { ModelFile } from "./model_file.ts";
import { blockTensorName, TN } from "./tensor_names.ts";

/** One transformer block's weights on the GPU. */
export interface GpuLayerWeights {
  /** (n_embd) f32 */
  readonly attnNorm: GPUBuffer;
  /** (n_head·head_dim rows, n_embd cols) */
  readonly wq: GpuWeight;
  /** (n_head_kv·head_dim rows, n_embd cols) */
  readonly wk: GpuWeight;
  /** (n_head_kv·head_dim rows, n_embd cols) */
  readonly wv: GpuWeight;
  /** (n_head·head_dim) f32, qwen2 only */
  readonly bq?: GPUBuffer;
  /** (n_head_kv·head_dim) f32, qwen2 only */
  readonly bk?: GPUBuffer;
  /** (n_head_kv·head_dim) f32, qwen2 only */
  readonly bv?: GPUBuffer;
  /** (n_embd rows, n_head·head_dim cols) */
  readonly wo: GpuWeight;
  /** (n_embd) f32 */
  readonly ffnNorm: GPUBuffer;
  /** (n_ff rows, n_embd cols) */
  readonly wGate: GpuWeight;
  /** (n_ff rows, n_embd cols) */
  readonly wUp: GpuWeight;
  /** (n_embd rows, n_ff cols) */
  readonly wDown: GpuWeight;
}

/** Every weight of a model on the GPU. */
export interface GpuModelWeights {
  /** (n_vocab rows, n_embd cols) */
  readonly tokenEmbd: GpuWeight;
  /** (n_embd) f32 */
  readonly outputNorm: GPUBuffer;
  /** (n_vocab rows, n_embd cols): `output.weight`, or `tokenEmbd` itself when tied. */
  readonly output: GpuWeight;
  /** (rope_dim / 2) divisors from `rope_freqs.weight`, kept on the CPU for the rope op. */
  readonly ropeFreqs?: Float32Array;
  /** The blocks, in order. */
  readonly layers: readonly GpuLayerWeights[];
  /** Bytes of weight data on the GPU. */
  readonly byteSize: number;
  /** Frees every buffer. */
  destroy(): void;
}

/**
 * Uploads every weight of `model`, one tensor at a time through one staging
 * array (peak host memory: the largest tensor).
 *
 * @param rt the runtime whose device receives the weights
 * @param model an opened, validated model
 * @param onProgress called after each tensor with (done, total)
 * @returns the weights on the GPU
 */
export async function uploadModelWeights(
  rt: GpuRuntime,
  model: ModelFile,
  onProgress?: (done: number, total: number) => void,
): Promise<GpuModelWeights> {
  const hp = model.hparams;
  const largest = Math.max(...model.gguf.tensors.map((t) => t.byteSize));
  const staging = new Uint8Array(largest);
  const matrices: GpuWeight[] = [];
  const vectors: GPUBuffer[] = [];
  let byteSize = 0;
  const total = model.gguf.tensors.length;
  let done = 0;
  const tick = () => onProgress?.(++done, total);
  const matrix = async (name: string): Promise<GpuWeight> => {
    const weight = await uploadWeight(rt, model.gguf, model.tensor(name), staging);
    matrices.push(weight);
    byteSize += weight.byteSize;
    tick();
    return weight;
  };
  const f32 = async (name: string): Promise<Float32Array> => {
    const info = model.tensor(name);
    return dequantize(info.type, await model.gguf.readTensor(info, staging), info.elementCount);
  };
  const vector = async (name: string): Promise<GPUBuffer> => {
    const values = await f32(name);
    const buffer = createStorageFrom(rt.device, values, name);
    vectors.push(buffer);
    byteSize += values.byteLength;
    tick();
    return buffer;
  };
  const tokenEmbd = await matrix(TN.tokenEmbd);
  const outputNorm = await vector(TN.outputNorm);
  const output = hp.tiedEmbeddings ? tokenEmbd : await matrix(TN.output);
  const ropeFreqs = hp.hasRopeFreqs ? await f32(TN.ropeFreqs) : undefined;
  const layers: GpuLayerWeights[] = [];
  for (let l = 0; l < hp.nLayer; l++) {
    const name = (kind: Parameters<typeof blockTensorName>[1]) => blockTensorName(l, kind);
    const bias = hp.hasQkvBias
      ? {
        bq: await vector(name("attnQBias")),
        bk: await vector(name("attnKBias")),
        bv: await vector(name("attnVBias")),
      }
      : {};
    layers.push({
      attnNorm: await vector(name("attnNorm")),
      wq: await matrix(name("attnQ")),
      wk: await matrix(name("attnK")),
      wv: await matrix(name("attnV")),
      ...bias,
      wo: await matrix(name("attnOutput")),
      ffnNorm: await vector(name("ffnNorm")),
      wGate: await matrix(name("ffnGate")),
      wUp: await matrix(name("ffnUp")),
      wDown: await matrix(name("ffnDown")),
    });
  }
  return {
    tokenEmbd,
    outputNorm,
    output,
    ...(ropeFreqs ? { ropeFreqs } : {}),
    layers,
    byteSize,
    destroy() {
      for (const m of matrices) destroyGpuWeight(m);
      for (const v of vectors) v.destroy();
    },
  };
}
