/**
 * Host side of `kernels/kv_head_variance.wgsl`: the unbiased variance over
 * keys of each query head's prefill column sums (d2o's per-head statistic).
 *
 * @module
 */

import src from "../../../kernels/kv_head_variance.wgsl" with { type: "text" };
import type { Dispatch, GpuRuntime } from "../runtime.ts";
import {
  bindBuffers,
  createParams,
  dispatchSteps,
  MAX_GROUPS_PER_DIM,
  opLabel,
  requireElements,
} from "./op_support.ts";

/** Workgroup size (a power of two). */
const WG = 256;

/** Buffers and sizes of the head variances. */
export interface HeadVarianceOptions {
  /** Column sums `[nHead][stride]`. */
  readonly colsum: GPUBuffer;
  /** Query heads. */
  readonly nHead: number;
  /** Keys summed over (`T'`, at least 1). */
  readonly tokens: number;
  /** Row stride of `colsum` (the staging slot count); defaults to `tokens`. */
  readonly stride?: number;
  /** Receives the variance of head h at `offset + h`. */
  readonly out: GPUBuffer;
  /** First element written in `out` (e.g. `layer · nHead` to gather every layer); default 0. */
  readonly offset?: number;
  /** GPU label suffix naming the call site, e.g. `"blk.3"`. */
  readonly label?: string;
}

/**
 * Creates the per-head variance dispatch (one workgroup per query head).
 *
 * @param rt GPU runtime
 * @param options buffers and sizes
 * @returns the recorded dispatch
 * @throws {RangeError} when the sizes are invalid or a buffer is too small
 */
export function createHeadVariance(rt: GpuRuntime, options: HeadVarianceOptions): Dispatch {
  const { colsum, nHead, tokens, out } = options;
  const stride = options.stride ?? tokens;
  const offset = options.offset ?? 0;
  const op = "kv_head_variance";
  const label = opLabel(op, options.label);
  if (!Number.isSafeInteger(tokens) || tokens < 1 || stride < tokens) {
    throw new RangeError(`Cannot run ${op}: ${tokens} tokens in rows of ${stride}`);
  }
  if (nHead < 1 || nHead > MAX_GROUPS_PER_DIM) {
    throw new RangeError(`Cannot run ${op}: ${nHead} heads`);
  }
  requireElements(op, "colsum", colsum, nHead * stride, `${nHead}×${stride}`);
  requireElements(op, "out", out, offset + nHead, `${offset}+${nHead}`);
  const pipeline = rt.pipelines.get({ label: op, code: src, constants: { WG } });
  const params = createParams(rt.device, `${label}.params`, [
    ["u", tokens],
    ["u", stride],
    ["u", offset],
  ]);
  const bindGroup = bindBuffers(rt.device, pipeline, label, [colsum, out, params]);
  return dispatchSteps([{ pipeline, bindGroup, grid: [nHead] }], [params]);
}
