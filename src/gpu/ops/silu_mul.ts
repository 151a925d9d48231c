/**
 * Host side of `kernels/silu_mul.wgsl`: `out = silu(gate) * up`.
 *
 * @module
 */

import src from "../../../kernels/silu_mul.wgsl" with { type: "text" };
import type { Dispatch, GpuRuntime } from "../runtime.ts";
import {
  bindBuffers,
  createParams,
  dispatchSteps,
  gridFor,
  opLabel,
  requireElements,
} from "./op_support.ts";
import { checkBindable } from "./silent_limits.ts";

/** Buffers and size of one SiLU×mul dispatch. */
export interface SiluMulOptions {
  /** Gate projection (n). */
  readonly gate: GPUBuffer;
  /** Up projection (n). */
  readonly up: GPUBuffer;
  /** Output (n); a buffer different from both inputs. */
  readonly out: GPUBuffer;
  /** Number of elements (tokens × n_ff). */
  readonly n: number;
  /** GPU label suffix naming the call site. */
  readonly label?: string;
}

/**
 * Creates a SiLU×mul dispatch.
 *
 * @param rt GPU runtime
 * @param options buffers and size
 * @returns the recorded dispatch (one invocation per element)
 * @throws {RangeError} when a buffer is too small
 * @throws {LimitError} when a buffer exceeds one storage binding
 */
export function createSiluMul(rt: GpuRuntime, options: SiluMulOptions): Dispatch {
  const { gate, up, out, n } = options;
  const label = opLabel("silu_mul", options.label);
  for (const [name, buffer] of [["gate", gate], ["up", up], ["out", out]] as const) {
    requireElements("silu_mul", name, buffer, n, `${n}`);
  }
  for (const [name, buffer] of [["gate", gate], ["up", up], ["out", out]] as const) {
    checkBindable(rt.device, "silu_mul", `buffer "${name}"`, buffer);
  }
  const pipeline = rt.pipelines.get({ label: "silu_mul", code: src });
  const params = createParams(rt.device, `${label}.params`, [["u", n]]);
  const bindGroup = bindBuffers(rt.device, pipeline, label, [gate, up, out, params]);
  const [gx, gy] = gridFor(Math.ceil(n / 256));
  return dispatchSteps([{ pipeline, bindGroup, grid: [gx, gy] }], [params]);
}
