/**
 * Shared pieces of the weight-kernel differential tests (matvec, matmul,
 * get_rows): seeded random weights packed by `quantize()` so the GPU and the
 * CPU twin read identical bytes, the per-type column sizes, and the error
 * measures.
 *
 * @module
 */

import { GgmlType, ggmlTypeName } from "../../src/gguf/ggml_type.ts";
import { openGguf } from "../../src/gguf/reader.ts";
import { quantize } from "../../src/gguf/quantize.ts";
import { makeRng, randn } from "../../src/reference/prng.ts";
import { createStorageFrom, readBuffer } from "../../src/gpu/buffers.ts";
import type { Dispatch } from "../../src/gpu/runtime.ts";

/** Every type the block kernels read. */
export const WEIGHT_TYPES: readonly GgmlType[] = [
  GgmlType.F32,
  GgmlType.F16,
  GgmlType.BF16,
  GgmlType.Q8_0,
  GgmlType.Q4_0,
  GgmlType.Q4_1,
  GgmlType.Q5_0,
  GgmlType.Q5_1,
  GgmlType.Q4_K,
  GgmlType.Q5_K,
  GgmlType.Q6_K,
];

/** The float types, whose rows may have any length. */
export const FLOAT_TYPES: readonly GgmlType[] = [GgmlType.F32, GgmlType.F16, GgmlType.BF16];

/**
 * Row lengths that are not multiples of 8 (or of 4, or even of 2) plus one
 * long odd one: 172 is stories260K's feed-forward length; odd lengths put
 * every other F16/BF16 row at a 2-byte offset.
 */
export const ANY_COLUMNS: readonly number[] = [1, 3, 172, 173, 4095];

/** The chunk limit that fits exactly `rows` rows of `bytesPerRow` bytes (chunks are padded to 16). */
export function chunkLimit(rows: number, bytesPerRow: number): number {
  return Math.ceil((rows * bytesPerRow) / 16) * 16;
}

/** Whether a type uses 256-element super-blocks. */
export function isKQuant(type: GgmlType): boolean {
  return type === GgmlType.Q4_K || type === GgmlType.Q5_K || type === GgmlType.Q6_K;
}

/**
 * Column counts to test for a type, smallest legal first: 32, 96, 256, 768,
 * 2048 for block-32 and float types (float types also 8), 256, 768, 2048 for K-quants.
 */
export function columnGrid(type: GgmlType): number[] {
  if (isKQuant(type)) return [256, 768, 2048];
  const base = [32, 96, 256, 768, 2048];
  return type === GgmlType.F32 || type === GgmlType.F16 || type === GgmlType.BF16
    ? [8, ...base]
    : base;
}

/** Lower-case type name as used in kernel labels, e.g. `q4_k`. */
export function typeTag(type: GgmlType): string {
  return ggmlTypeName(type).toLowerCase();
}

/** `count` normal values (seeded), scaled by `scale`. */
export function randomValues(seed: number, count: number, scale = 1): Float32Array {
  const rng = makeRng(seed);
  return Float32Array.from({ length: count }, () => scale * randn(rng));
}

/** Seeded random `rows × cols` weight packed in `type`. */
export function randomWeight(type: GgmlType, rows: number, cols: number, seed: number): Uint8Array {
  return quantize(type, randomValues(seed, rows * cols));
}

/** Normalised mean squared error Σ(a−b)² / Σb² and the largest |a−b|. */
export function compare(actual: Float32Array, expected: Float32Array): {
  nmse: number;
  maxAbs: number;
  scale: number;
} {
  let err = 0;
  let ref = 0;
  let maxAbs = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = actual[i]! - expected[i]!;
    err += d * d;
    ref += expected[i]! * expected[i]!;
    maxAbs = Math.max(maxAbs, Math.abs(d));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return { nmse: ref === 0 ? err : err / ref, maxAbs, scale };
}

/** Uploads f32 data into a new storage buffer. */
export function storageOf(
  device: GPUDevice,
  data: Float32Array | Uint32Array,
  label: string,
): GPUBuffer {
  return createStorageFrom(device, data, label);
}

/** Reads `count` f32 values back from a buffer. */
export async function readF32(
  device: GPUDevice,
  buffer: GPUBuffer,
  count: number,
): Promise<Float32Array> {
  return new Float32Array(await readBuffer(device, buffer, count * 4));
}

/** Records the dispatches in one compute pass and submits it. */
export function submitPass(device: GPUDevice, dispatches: readonly Dispatch[]): void {
  const encoder = device.createCommandEncoder({ label: "test" });
  const pass = encoder.beginComputePass();
  for (const dispatch of dispatches) dispatch.encode(pass);
  pass.end();
  device.queue.submit([encoder.finish()]);
}

/** A weight tensor read from one of the shared test models. */
export interface ModelTensor {
  /** Its bytes as stored in the file. */
  bytes: Uint8Array;
  /** Element type. */
  type: GgmlType;
  /** Rows (product of the outer dims). */
  rows: number;
  /** Elements per row. */
  cols: number;
}

/** Reads tensor `name` of the test model `file` (in ../shared/models). */
export async function readModelTensor(file: string, name: string): Promise<ModelTensor> {
  const url = new URL(`../../../shared/models/${file}`, import.meta.url);
  const gguf = await openGguf(url.pathname);
  try {
    const info = gguf.tensor(name);
    if (info === undefined) throw new Error(`Test model ${file} has no tensor "${name}"`);
    const cols = info.dims[0]!;
    const bytes = await gguf.readTensor(info);
    return { bytes, type: info.type, rows: info.elementCount / cols, cols };
  } finally {
    gguf.close();
  }
}
