/**
 * Small-batch decode mat-vec on GGUF blocks as uploaded: `Y[b] (+)= W·X[b]`
 * for up to 8 input rows, each weight group dequantized once for all of them.
 * Kernel: kernels/matvec_batch.wgsl.
 *
 * @module
 */

import body from "../../../kernels/matvec_batch.wgsl" with { type: "text" };
import xVec4 from "../../../kernels/_x_vec4.wgsl" with { type: "text" };
import type { GpuRuntime } from "../runtime.ts";
import { STEP_WGSL } from "../step.ts";
import type { GpuWeight } from "../weights.ts";
import { gridFor, requireElements } from "./op_support.ts";
import { checkBindable, checkLoopBudget } from "./silent_limits.ts";
import {
  checkQuantWeight,
  createChunkDispatch,
  createFixedStep,
  type OwnedDispatch,
  quantConstants,
  quantKernelSource,
  quantLabel,
} from "./quant_kernel.ts";

/** Most input rows one batched mat-vec serves (the largest NB the kernel takes). */
export const MATVEC_BATCH_MAX_ROWS = 8;
/** Weight rows one workgroup computes (NR in the kernel). */
const ROWS_PER_WORKGROUP = 8;

/** Inputs of {@linkcode createMatvecBatch}. */
export interface MatvecBatchOptions {
  /** The weight, `rows × cols` (`cols` a multiple of 8). */
  readonly weight: GpuWeight;
  /** Input X, `maxRows × cols` f32, row-major. */
  readonly x: GPUBuffer;
  /** Output Y, `maxRows × rows` f32, row-major. */
  readonly y: GPUBuffer;
  /** Input rows X and Y hold, 1 to {@linkcode MATVEC_BATCH_MAX_ROWS}. */
  readonly maxRows: number;
  /**
   * The shared per-step uniform; its `n_tokens` says how many rows this step
   * has. When omitted, every dispatch processes `maxRows`.
   */
  readonly step?: GPUBuffer;
  /** Add into Y instead of overwriting it (fuses the residual add). */
  readonly accumulate?: boolean;
  /** Threads per workgroup, a power of two; default 8 on a CPU fallback adapter, 64 elsewhere. */
  readonly workgroupSize?: number;
}

/**
 * Whether {@linkcode createMatvecBatch} takes `weight` for `rows` input rows.
 *
 * @param weight the weight
 * @param rows input rows per step
 */
export function matvecBatchFits(weight: GpuWeight, rows: number): boolean {
  return rows >= 1 && rows <= MATVEC_BATCH_MAX_ROWS && weight.cols % 8 === 0;
}

/**
 * Builds the batched mat-vec `Y = X·Wᵀ` (or `Y += X·Wᵀ`) for a decode step of
 * a few sequences: pipeline, uniforms and one bind group per weight chunk,
 * created once.
 *
 * @example Record the Q projection of a 4-sequence decode step
 * ```ts ignore
 * const q = createMatvecBatch(rt, { weight: wq, x: xNorm, y: qBuf, maxRows: 4, step });
 * q.encode(pass);
 * ```
 *
 * @param rt runtime (device and pipeline cache)
 * @param options weight, activations, row count and flags
 * @returns the dispatch (one per chunk)
 * @throws {RangeError} if the columns are not a multiple of 8 and of the block, `maxRows` is out of range, or a buffer is too small
 * @throws {LimitError} if X or Y exceeds one storage binding, or a row needs more loop iterations than lavapipe runs
 */
export function createMatvecBatch(rt: GpuRuntime, options: MatvecBatchOptions): OwnedDispatch {
  const { weight, x, y, maxRows } = options;
  const label = quantLabel("matvec_batch", weight.type);
  checkQuantWeight(label, weight);
  if (!Number.isInteger(maxRows) || !matvecBatchFits(weight, maxRows)) {
    throw new RangeError(
      `Cannot run ${label}: ${maxRows} rows of ${weight.cols} columns, expected 1 to ${MATVEC_BATCH_MAX_ROWS} rows of a multiple of 8 columns`,
    );
  }
  const onWeight = `${label} on weight "${weight.name}"`;
  requireElements(onWeight, "x", x, maxRows * weight.cols, `${maxRows}×${weight.cols}`);
  requireElements(onWeight, "y", y, maxRows * weight.rows, `${maxRows}×${weight.rows}`);
  const wg = options.workgroupSize ?? (rt.ctx.isFallback ? 8 : 64);
  if (!Number.isInteger(Math.log2(wg)) || wg > rt.device.limits.maxComputeInvocationsPerWorkgroup) {
    throw new RangeError(
      `Cannot run ${label}: workgroup size ${wg} is not a power of two within the device limit`,
    );
  }
  const cells = ROWS_PER_WORKGROUP * maxRows;
  checkLoopBudget(
    label,
    `rows of ${weight.cols} columns for ${maxRows} inputs on ${wg} threads`,
    Math.ceil(weight.cols / 8 / wg) + Math.log2(wg) * (1 + cells) + Math.ceil(cells / wg),
  );
  checkBindable(rt.device, label, `input "x" for weight "${weight.name}"`, x);
  checkBindable(rt.device, label, `output "y" for weight "${weight.name}"`, y);
  const pipeline = rt.pipelines.get({
    label,
    code: quantKernelSource(weight.type, STEP_WGSL + body + xVec4),
    constants: { ...quantConstants(weight), WG: wg, NB: maxRows },
  });
  const step = options.step ??
    createFixedStep(rt.device, maxRows, `${label}:step:${weight.name}`);
  const maxPerDim = rt.device.limits.maxComputeWorkgroupsPerDimension;
  return createChunkDispatch(rt, {
    label,
    pipeline,
    weight,
    buffers: [x, y],
    after: [step],
    params: (chunk) => [
      chunk.rowCount,
      weight.cols,
      weight.rowBytes,
      chunk.firstRow,
      weight.rows,
      options.accumulate ? 1 : 0,
    ],
    grid: (chunk) => gridFor(Math.ceil(chunk.rowCount / ROWS_PER_WORKGROUP), maxPerDim),
    owned: options.step ? [] : [step],
  });
}
