/**
 * Small helpers for GPU buffers: create from data, create empty, read back.
 *
 * @module
 */

import { GpuError } from "../errors.ts";
import type { GpuContext } from "./device.ts";

/** Usage flags of a storage buffer that can also be copied from and to. */
export const STORAGE_USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC |
  GPUBufferUsage.COPY_DST;

/**
 * Creates a storage buffer holding `data` (padded up to a multiple of 4 bytes).
 *
 * @param device owning device
 * @param data initial contents
 * @param label GPU label naming what the buffer holds
 */
export function createStorageFrom(
  device: GPUDevice,
  data: ArrayBufferView,
  label: string,
  usage: number = STORAGE_USAGE,
): GPUBuffer {
  const size = Math.max(4, Math.ceil(data.byteLength / 4) * 4);
  const buffer = device.createBuffer({ label, size, usage, mappedAtCreation: true });
  new Uint8Array(buffer.getMappedRange()).set(
    new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  );
  buffer.unmap();
  return buffer;
}

/**
 * Creates a zero-filled storage buffer of at least `byteSize` bytes (rounded up to 4).
 *
 * @param device owning device
 * @param byteSize wanted size in bytes
 * @param label GPU label naming what the buffer holds
 */
export function createStorage(
  device: GPUDevice,
  byteSize: number,
  label: string,
  usage: number = STORAGE_USAGE,
): GPUBuffer {
  return device.createBuffer({ label, size: Math.max(4, Math.ceil(byteSize / 4) * 4), usage });
}

/**
 * Copies `byteSize` bytes from `source` (at `offset`) into a mappable buffer and returns them.
 *
 * @param device owning device
 * @param source a buffer with COPY_SRC usage
 * @param byteSize bytes to read (rounded up to 4 for the copy)
 * @param offset byte offset in `source` (multiple of 4)
 */
export async function readBuffer(
  device: GPUDevice,
  source: GPUBuffer,
  byteSize: number,
  offset = 0,
): Promise<ArrayBuffer> {
  const size = Math.max(4, Math.ceil(byteSize / 4) * 4);
  const staging = device.createBuffer({
    label: `read:${source.label}`,
    size,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  const encoder = device.createCommandEncoder({ label: `read:${source.label}` });
  encoder.copyBufferToBuffer(source, offset, staging, 0, size);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = staging.getMappedRange().slice(0, byteSize);
  staging.unmap();
  staging.destroy();
  return out;
}

/**
 * Creates a buffer the CPU maps to read what a step copied into it.
 *
 * @param device owning device
 * @param byteSize its size in bytes
 * @param label GPU label naming what it receives
 */
export function createReadback(device: GPUDevice, byteSize: number, label: string): GPUBuffer {
  const usage = GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST;
  return device.createBuffer({ label, size: byteSize, usage });
}

/**
 * Maps a read-back buffer that a submitted step copies token ids into, and
 * copies out its first `n`; then checks the device's health.
 *
 * @param ctx the device's context
 * @param buffer a map-readable buffer of at least 4·n bytes
 * @param n token ids to read
 * @throws {GpuError} when the map fails (the device's own error when it reported one)
 */
export async function readTokenIds(
  ctx: GpuContext,
  buffer: GPUBuffer,
  n: number,
): Promise<Uint32Array> {
  await buffer.mapAsync(GPUMapMode.READ, 0, 4 * n).catch((error) => readFailed(ctx, error));
  const ids = new Uint32Array(buffer.getMappedRange(0, 4 * n).slice(0));
  buffer.unmap();
  ctx.checkHealth();
  return ids;
}

/**
 * A read-back failed: throws the device's own error if it reported one, else this one.
 *
 * @param ctx the device's context
 * @param error the map failure
 * @throws {GpuError} always
 */
export function readFailed(ctx: GpuContext, error: unknown): never {
  ctx.checkHealth();
  throw new GpuError(`Cannot read a result back from the GPU: ${(error as Error).message}`, {
    cause: error,
  });
}
