/**
 * Host side of `kernels/add.wgsl`: residual add `a += b` and bias add
 * `a[r][i] += bias[i]`.
 *
 * @module
 */

import src from "../../../kernels/add.wgsl" with { type: "text" };
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

/** Buffers and size of a residual add. */
export interface AddOptions {
  /** Accumulator (n), updated in place. */
  readonly a: GPUBuffer;
  /** Addend (n); a different buffer from `a`. */
  readonly b: GPUBuffer;
  /** Number of elements. */
  readonly n: number;
  /** GPU label suffix naming the call site. */
  readonly label?: string;
}

/** Buffers and sizes of a bias add. */
export interface AddBiasOptions {
  /** Rows (rows × n), updated in place. */
  readonly a: GPUBuffer;
  /** Bias (n). */
  readonly bias: GPUBuffer;
  /** Number of rows. */
  readonly rows: number;
  /** Row length. */
  readonly n: number;
  /** GPU label suffix naming the call site. */
  readonly label?: string;
}

/**
 * Creates a residual add dispatch: `a += b`.
 *
 * @param rt GPU runtime
 * @param options buffers and size
 * @returns the recorded dispatch
 * @throws {RangeError} when a buffer is too small
 * @throws {LimitError} when a buffer exceeds one storage binding
 */
export function createAdd(rt: GpuRuntime, options: AddOptions): Dispatch {
  const { a, b, n } = options;
  requireElements("add", "a", a, n, `${n}`);
  requireElements("add", "b", b, n, `${n}`);
  return addDispatch(rt, opLabel("add", options.label), a, b, n, n);
}

/**
 * Creates a bias add dispatch: `a[r][i] += bias[i]` for every row.
 *
 * @param rt GPU runtime
 * @param options buffers and sizes
 * @returns the recorded dispatch
 * @throws {RangeError} when a buffer is too small
 * @throws {LimitError} when a buffer exceeds one storage binding
 */
export function createAddBias(rt: GpuRuntime, options: AddBiasOptions): Dispatch {
  const { a, bias, rows, n } = options;
  requireElements("add_bias", "a", a, rows * n, `${rows}×${n}`);
  requireElements("add_bias", "bias", bias, n, `${n}`);
  const label = opLabel("add_bias", options.label);
  return addDispatch(rt, label, a, bias, rows * n, n);
}

function addDispatch(
  rt: GpuRuntime,
  label: string,
  a: GPUBuffer,
  b: GPUBuffer,
  n: number,
  bLen: number,
): Dispatch {
  checkBindable(rt.device, label, `buffer "a"`, a);
  checkBindable(rt.device, label, `buffer "b"`, b);
  const pipeline = rt.pipelines.get({ label: "add", code: src });
  const params = createParams(rt.device, `${label}.params`, [["u", n], ["u", bLen]]);
  const bindGroup = bindBuffers(rt.device, pipeline, label, [a, b, params]);
  const [gx, gy] = gridFor(Math.ceil(n / 256));
  return dispatchSteps([{ pipeline, bindGroup, grid: [gx, gy] }], [params]);
}
