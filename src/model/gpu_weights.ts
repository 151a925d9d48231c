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
import { type LayerTensors, loadLayerTensors } from "./layer_tensors.ts";
import { TN } from "./tensor_names.ts";

/** One transformer block's weights on the GPU: packed matrices, f32 vector buffers. */
export type GpuLayerWeights = LayerTensors<GpuWeight, GPUBuffer>;

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
  const layers = await loadLayerTensors(hp, { matrix, vector });
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
