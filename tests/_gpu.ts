/**
 * The one GPU gate for tests: acquires the adapter once and shares the device.
 * Fails loudly when there is no adapter, unless `D2O_SKIP_GPU_TESTS=1` asks to
 * skip GPU tests (then it says why).
 *
 * @module
 */

import { acquireGpu, type GpuContext } from "../src/gpu/device.ts";

let shared: Promise<GpuContext> | undefined;

/** Whether GPU tests are skipped on request (`D2O_SKIP_GPU_TESTS=1`). */
export const skipGpu = Deno.env.get("D2O_SKIP_GPU_TESTS") === "1";
if (skipGpu) console.warn("GPU tests skipped: D2O_SKIP_GPU_TESTS=1");

/** The shared test device (acquired on first use; never destroyed while tests run). */
export function testGpu(): Promise<GpuContext> {
  shared ??= acquireGpu();
  return shared;
}

/** Options for GPU tests: sanitizers off, since the device lives across tests. */
export const gpuTestOptions = { sanitizeResources: false, sanitizeOps: false, ignore: skipGpu };
