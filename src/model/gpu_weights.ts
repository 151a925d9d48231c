/**
 * Uploading a model's weights to the GPU: matrices as their GGUF blocks (no
 * dequantized copy), norm and bias vectors as f32.
 *
 * @module
 */

import { createStorageFrom } from "../gpu/buffers.ts";
import type { GpuRuntime } from "../gpu/runtime.ts";
import { rowBytes } from "../gguf/ggml_type.ts";
import type { GgufTensorInfo } from "../gguf/types.ts";
import {
  createGpuWeight,
  destroyGpuWeight,
  type GpuWeight,
  UploadStaging,
  uploadWeight,
} from "../gpu/weights.ts";
import { dequantize } from "../gguf/dequantize.ts";
import type { ModelFile } from "./model_file.ts";
import { type LayerTensors, loadLayerTensors } from "./layer_tensors.ts";
import { isKvProjection, repeatHeadRows } from "./repeat_kv.ts";
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
 * Uploads every weight of `model`, streamed from the file through one bounded
 * {@linkcode UploadStaging} (peak host memory beside the GPU copy: a few MiB,
 * not a tensor; on a CPU adapter the GPU copy is host memory too).
 *
 * @param rt the runtime whose device receives the weights
 * @param model an opened, validated model
 * @param onProgress called after each tensor with (done, total)
 * @param kvGroup repeat each KV head's projection rows this many times (`repeat_kv.ts`; 1: as stored)
 * @returns the weights on the GPU
 */
export async function uploadModelWeights(
  rt: GpuRuntime,
  model: ModelFile,
  onProgress?: (done: number, total: number) => void,
  kvGroup = 1,
): Promise<GpuModelWeights> {
  const hp = model.hparams;
  const staging = new UploadStaging(rt);
  const matrices: GpuWeight[] = [];
  const vectors: GPUBuffer[] = [];
  let byteSize = 0;
  const total = model.gguf.tensors.length;
  let done = 0;
  const tick = () => onProgress?.(++done, total);
  const matrix = async (name: string): Promise<GpuWeight> => {
    const info = model.tensor(name);
    let weight: GpuWeight;
    if (kvGroup > 1 && isKvProjection(name)) {
      weight = repeatedWeight(rt, info, await model.gguf.readTensor(info), hp.headDim, kvGroup);
      await staging.queued(weight.byteSize);
    } else {
      weight = await uploadWeight(rt, model.gguf, info, staging);
    }
    matrices.push(weight);
    byteSize += weight.byteSize;
    tick();
    return weight;
  };
  const f32 = async (name: string): Promise<Float32Array> => {
    const info = model.tensor(name);
    return dequantize(info.type, await model.gguf.readTensor(info), info.elementCount);
  };
  const vector = async (name: string): Promise<GPUBuffer> => {
    const stored = await f32(name);
    const values = kvGroup > 1 && isKvProjection(name)
      ? new Float32Array(repeatHeadRows(bytesOf(stored), 4, hp.headDim, kvGroup).buffer)
      : stored;
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
  await staging.drain();
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

/** A K or V projection uploaded with each head's rows repeated `group` times. */
function repeatedWeight(
  rt: GpuRuntime,
  info: GgufTensorInfo,
  bytes: Uint8Array,
  headDim: number,
  group: number,
): GpuWeight {
  const cols = info.dims[0] ?? 1;
  const rows = info.elementCount / cols;
  const repeated = repeatHeadRows(bytes, rowBytes(info.type, cols), headDim, group);
  return createGpuWeight(rt, repeated, {
    name: info.name,
    type: info.type,
    rows: rows * group,
    cols,
  });
}

/** The bytes of an f32 array. */
function bytesOf(x: Float32Array): Uint8Array {
  return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
}
