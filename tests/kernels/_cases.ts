/**
 * Shared pieces of every kernel test: the shared runtime, seeded random
 * inputs, uploads, read-back, one-pass submits and the error measures the
 * differential tests compare with.
 *
 * @module
 */

import { createStorageFrom, readBuffer } from "../../src/gpu/buffers.ts";
import { createRuntime, type Dispatch, type GpuRuntime } from "../../src/gpu/runtime.ts";
import { makeRng, randn } from "../../src/reference/prng.ts";
import { testGpu } from "../_gpu.ts";

let shared: GpuRuntime | undefined;

/** The runtime every kernel test shares (created on first use). */
export async function testRuntime(): Promise<GpuRuntime> {
  return shared ??= createRuntime(await testGpu());
}

/** `count` normal values (seeded), scaled by `scale`. */
export function randomValues(seed: number, count: number, scale = 1): Float32Array {
  const rng = makeRng(seed);
  return Float32Array.from({ length: count }, () => scale * randn(rng));
}

/** Normalised mean squared error Σ(a−b)² / Σb², the largest |a−b| and the largest |b|. */
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

/** Uploads test data into a new storage buffer. */
export function storageOf(device: GPUDevice, data: ArrayBufferView, label: string): GPUBuffer {
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
