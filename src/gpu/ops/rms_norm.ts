/**
 * Host side of `kernels/rms_norm.wgsl`: RMS normalisation of rows times a weight.
 *
 * @module
 */

import src from "../../../kernels/rms_norm.wgsl" with { type: "text" };
import type { Dispatch, GpuRuntime } from "../runtime.ts";
import {
  bindBuffers,
  createParams,
  dispatchSteps,
  opLabel,
  requireElements,
  requireGroupCount,
} from "./op_support.ts";
import { checkBindable, checkLoopBudget } from "./silent_limits.ts";

/**
 * Threads per rms_norm workgroup: 256 on a GPU; 8 (one SIMD group) on a CPU
 * fallback adapter, where every extra thread costs a barrier round.
 */
function workgroupSize(rt: GpuRuntime): number {
  return rt.ctx.isFallback ? 8 : 256;
}

/** Buffers and sizes of one RMS-norm dispatch. */
export interface RmsNormOptions {
  /** Input rows (rows × n). */
  readonly x: GPUBuffer;
  /** Weight (n). */
  readonly weight: GPUBuffer;
  /** Output rows (rows × n); a different buffer from `x`. */
  readonly out: GPUBuffer;
  /** Number of rows. */
  readonly rows: number;
  /** Row length. */
  readonly n: number;
  /** Added to the mean square. */
  readonly eps: number;
  /** GPU label suffix naming the call site, e.g. `"blk.0.attn_norm"`. */
  readonly label?: string;
}

/**
 * Creates an RMS-norm dispatch: `out = x / sqrt(mean(x²) + eps) * weight` per row.
 *
 * @param rt GPU runtime
 * @param options buffers and sizes
 * @returns the recorded dispatch (one workgroup per row)
 * @throws {RangeError} when a buffer is too small or rows exceed 65535
 * @throws {LimitError} when a buffer exceeds one storage binding or a row needs more loop iterations than lavapipe runs
 */
export function createRmsNorm(rt: GpuRuntime, options: RmsNormOptions): Dispatch {
  const { x, weight, out, rows, n, eps } = options;
  const label = opLabel("rms_norm", options.label);
  requireElements("rms_norm", "x", x, rows * n, `${rows}×${n}`);
  requireElements("rms_norm", "weight", weight, n, `${n}`);
  requireElements("rms_norm", "out", out, rows * n, `${rows}×${n}`);
  requireGroupCount("rms_norm", "rows", rows);
  const WG = workgroupSize(rt);
  // Kernel bound: two strided passes over the row plus log2(WG) reduction steps.
  checkLoopBudget("rms_norm", `rows of ${n}`, 2 * Math.ceil(n / WG) + Math.log2(WG));
  checkBindable(rt.device, "rms_norm", `buffer "x"`, x);
  checkBindable(rt.device, "rms_norm", `buffer "out"`, out);
  const pipeline = rt.pipelines.get({ label: "rms_norm", code: src, constants: { WG } });
  const params = createParams(rt.device, `${label}.params`, [["u", n], ["f", eps]]);
  const bindGroup = bindBuffers(rt.device, pipeline, label, [x, weight, out, params]);
  return dispatchSteps([{ pipeline, bindGroup, grid: [rows] }], [params]);
}
