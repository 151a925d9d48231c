/**
 * The GPU runtime shared by every op: the device, its adapter facts and the
 * pipeline cache.
 *
 * @module
 */

import type { GpuContext } from "./device.ts";
import { PipelineCache } from "./pipeline_cache.ts";

/** Device, adapter facts and pipeline cache, passed to every op constructor. */
export interface GpuRuntime {
  /** Adapter facts and the device. */
  readonly ctx: GpuContext;
  /** Shortcut for `ctx.device`. */
  readonly device: GPUDevice;
  /** Pipelines compiled once per (kernel, constants). */
  readonly pipelines: PipelineCache;
}

/** Wraps an acquired device into a runtime with an empty pipeline cache. */
export function createRuntime(ctx: GpuContext): GpuRuntime {
  return { ctx, device: ctx.device, pipelines: new PipelineCache(ctx.device) };
}

/** One recorded dispatch (or a few) of an op whose bind groups were created up front. */
export interface Dispatch {
  /** Records the op's dispatches into an open compute pass. */
  encode(pass: GPUComputePassEncoder): void;
  /** Frees the buffers the op created (uniforms, scratch; never its inputs or outputs). */
  destroy(): void;
}
