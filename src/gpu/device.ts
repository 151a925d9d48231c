/**
 * WebGPU adapter and device acquisition through Deno's `navigator.gpu`, with
 * the limits a model needs and clear errors when there is no adapter or the
 * device is lost.
 *
 * @module
 */

import { GpuError } from "../errors.ts";

/** How to get a software WebGPU adapter on a machine without a GPU. */
export const NO_ADAPTER_HINT =
  "no WebGPU adapter found; on Debian/Ubuntu install Mesa's software Vulkan driver: " +
  "sudo apt-get install mesa-vulkan-drivers libvulkan1";

/** An acquired device with what we learned about its adapter. */
export interface GpuContext {
  /** The device all buffers and pipelines belong to. */
  readonly device: GPUDevice;
  /** Adapter description, e.g. `llvmpipe (LLVM 15.0.6, 256 bits)`. */
  readonly description: string;
  /** Whether the adapter is a software fallback (lavapipe). */
  readonly isFallback: boolean;
  /** Whether `timestamp-query` was enabled. */
  readonly hasTimestamps: boolean;
  /** Whether `shader-f16` was enabled. */
  readonly hasF16: boolean;
  /**
   * Throws the first validation error, out-of-memory error or device loss
   * seen since the device was created, as a {@linkcode GpuError}; callers
   * check after each read-back, so a failed kernel never passes silently and
   * a lost device never hangs the program.
   */
  checkHealth(): void;
}

/** Options for {@linkcode acquireGpu}. */
export interface AcquireOptions {
  /** Storage-binding size the caller needs; defaults to the adapter's maximum. */
  readonly maxStorageBufferBindingSize?: number;
  /** Largest single buffer the caller needs; defaults to the adapter's maximum. */
  readonly maxBufferSize?: number;
}

/** The buffer limits of the adapter a session would get. */
export interface AdapterLimits {
  /** Largest storage binding in bytes. */
  readonly maxStorageBufferBindingSize: number;
  /** Largest buffer in bytes. */
  readonly maxBufferSize: number;
}

/** The adapter's buffer limits and the feature the KV cache's default type follows. */
export interface AdapterFacts extends AdapterLimits {
  /** Whether the adapter offers `shader-f16` (the KV cache is then f16 by default). */
  readonly hasF16: boolean;
}

/**
 * The adapter's buffer limits and features, without creating a device, for
 * checks and choices made before any upload (e.g. a context too large for
 * the GPU, the KV cache's element type).
 *
 * @returns the facts, or undefined when there is no adapter (acquireGpu then says why)
 */
export async function adapterLimits(): Promise<AdapterFacts | undefined> {
  if (!("gpu" in navigator) || !navigator.gpu) return undefined;
  const adapter = await withRuntimeDir(() =>
    navigator.gpu.requestAdapter({ powerPreference: "high-performance" })
  );
  if (!adapter) return undefined;
  const { maxStorageBufferBindingSize, maxBufferSize } = adapter.limits;
  return { maxStorageBufferBindingSize, maxBufferSize, hasF16: adapter.features.has("shader-f16") };
}

/**
 * The adapter a session would get, in words, without creating a device (for
 * `d2o --version`).
 *
 * @returns e.g. `llvmpipe (LLVM 15.0.6, 256 bits), a software fallback adapter`, or undefined when there is none
 */
export async function describeAdapter(): Promise<string | undefined> {
  if (!("gpu" in navigator) || !navigator.gpu) return undefined;
  const adapter = await withRuntimeDir(() =>
    navigator.gpu.requestAdapter({ powerPreference: "high-performance" })
  );
  if (!adapter) return undefined;
  const name = adapterName(adapter.info);
  return adapter.info.isFallbackAdapter ? `${name}, a software fallback adapter` : name;
}

/**
 * Requests an adapter and a device with the adapter's best limits for compute.
 *
 * @param options limits the caller needs
 * @returns the device and adapter facts
 * @throws {GpuError} when WebGPU is unavailable, no adapter exists, or the
 *   adapter cannot meet the requested limits
 */
export async function acquireGpu(options: AcquireOptions = {}): Promise<GpuContext> {
  if (!("gpu" in navigator) || !navigator.gpu) {
    throw new GpuError("WebGPU is not available in this Deno build (run with --unstable-webgpu)");
  }
  const adapter = await withRuntimeDir(() =>
    navigator.gpu.requestAdapter({ powerPreference: "high-performance" })
  );
  if (!adapter) throw new GpuError(NO_ADAPTER_HINT);
  const lim = adapter.limits;
  const wantBinding = options.maxStorageBufferBindingSize ?? lim.maxStorageBufferBindingSize;
  const wantBuffer = options.maxBufferSize ?? lim.maxBufferSize;
  if (wantBinding > lim.maxStorageBufferBindingSize || wantBuffer > lim.maxBufferSize) {
    throw new GpuError(
      `Cannot use this WebGPU adapter: it allows storage bindings of ${lim.maxStorageBufferBindingSize} ` +
        `bytes and buffers of ${lim.maxBufferSize} bytes, the model needs ${wantBinding} and ${wantBuffer}`,
    );
  }
  const features: GPUFeatureName[] = [];
  const hasTimestamps = adapter.features.has("timestamp-query");
  const hasF16 = adapter.features.has("shader-f16");
  if (hasTimestamps) features.push("timestamp-query");
  if (hasF16) features.push("shader-f16");
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({
      requiredFeatures: features,
      requiredLimits: {
        maxStorageBufferBindingSize: wantBinding,
        maxBufferSize: wantBuffer,
        maxStorageBuffersPerShaderStage: lim.maxStorageBuffersPerShaderStage,
        maxComputeWorkgroupStorageSize: lim.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: lim.maxComputeInvocationsPerWorkgroup,
        maxComputeWorkgroupSizeX: lim.maxComputeWorkgroupSizeX,
        maxComputeWorkgroupsPerDimension: lim.maxComputeWorkgroupsPerDimension,
      },
    });
  } catch (error) {
    throw new GpuError(`Cannot create a WebGPU device: ${(error as Error).message}`, {
      cause: error,
    });
  }
  let failure: string | undefined;
  device.addEventListener("uncapturederror", (event) => {
    failure ??= `a WebGPU ${errorKind((event as GPUUncapturedErrorEvent).error)}: ${
      (event as GPUUncapturedErrorEvent).error.message.split("\n")[0]
    }`;
  });
  device.lost.then((lost) => {
    if (lost.reason !== "destroyed") failure ??= `the WebGPU device was lost: ${lost.message}`;
  });
  const info = adapter.info;
  return {
    device,
    description: adapterName(info),
    isFallback: info.isFallbackAdapter,
    hasTimestamps,
    hasF16,
    checkHealth() {
      if (failure) throw new GpuError(`Cannot go on: ${failure}`);
    },
  };
}

/**
 * Runs `fn` with `XDG_RUNTIME_DIR` set to a private temporary folder when it is
 * unset: Mesa's drivers print a warning on stderr without it, which would
 * pollute the CLI's one-line-error contract. The folder is removed afterwards.
 */
async function withRuntimeDir<T>(fn: () => Promise<T>): Promise<T> {
  let env: string | undefined;
  try {
    env = Deno.env.get("XDG_RUNTIME_DIR");
  } catch {
    return await fn(); // no --allow-env: leave the environment alone
  }
  if (env) return await fn();
  const dir = await Deno.makeTempDir({ prefix: "d2o-xdg-" });
  Deno.env.set("XDG_RUNTIME_DIR", dir);
  try {
    return await fn();
  } finally {
    Deno.env.delete("XDG_RUNTIME_DIR");
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** An adapter's name: its description, else its vendor. */
function adapterName(info: GPUAdapterInfo): string {
  return info.description || info.vendor || "unknown adapter";
}

function errorKind(error: GPUError): string {
  if (error instanceof GPUValidationError) return "validation error";
  if (error instanceof GPUOutOfMemoryError) return "out-of-memory error";
  return "internal error";
}
