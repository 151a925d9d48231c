/**
 * Prompt mat-mul on GGUF blocks as uploaded: `Y[t] (+)= W·X[t]` for the
 * tokens of one prefill step, one dispatch per weight chunk. Kernel:
 * kernels/matmul_tiled.wgsl (64 rows × 64 or 32 tokens per workgroup).
 *
 * @module
 */

import body from "../../../kernels/matmul_tiled.wgsl" with { type: "text" };
import type { GpuRuntime } from "../runtime.ts";
import { STEP_WGSL } from "../step.ts";
import type { GpuWeight, WeightChunk } from "../weights.ts";
import { gridFor, requireElements } from "./op_support.ts";
import { checkBindable, checkLoopBudget } from "./silent_limits.ts";
import {
  activationInput,
  checkQuantWeight,
  createChunkDispatch,
  createFixedStep,
  type OwnedDispatch,
  quantConstants,
  quantKernelSource,
  quantLabel,
  specializeSource,
} from "./quant_kernel.ts";

/** Weight rows per workgroup tile (TR in the kernel). */
export const MATMUL_TILE_ROWS = 64;
/** Tokens per workgroup tile (TT in the kernel): the wide tile, else the narrow one. */
export const MATMUL_TILE_TOKENS = { wide: 64, narrow: 32 } as const;

/**
 * Weight elements from which a mat-mul takes the wide token tile: it runs
 * 1.4× faster on a CPU driver but compiles about three times as long, which
 * only pays where the multiply-adds outweigh the compile (not stories260K's
 * 64-wide matrices, whose pipelines delay the first token).
 */
export const MATMUL_WIDE_ELEMENTS = 1 << 18;

/** Inputs of {@linkcode createMatmul}. */
export interface MatmulOptions {
  /** The weight, `rows × cols`. */
  readonly weight: GpuWeight;
  /** Input X, `maxTokens × cols` f32, row-major. */
  readonly x: GPUBuffer;
  /** Output Y, `maxTokens × rows` f32, row-major. */
  readonly y: GPUBuffer;
  /** Token rows X and Y hold; the dispatch covers this many. */
  readonly maxTokens: number;
  /**
   * The shared per-step uniform (`Step` struct); its `n_tokens` says how many
   * tokens this step has. When omitted, every dispatch processes `maxTokens`.
   */
  readonly step?: GPUBuffer;
  /** Add into Y instead of overwriting it (fuses the residual add). */
  readonly accumulate?: boolean;
}

/**
 * Builds the mat-mul `Y = X·Wᵀ` (or `Y += X·Wᵀ`): pipeline, uniforms and one
 * bind group per weight chunk, created once.
 *
 * @example Record the prompt's Q projection
 * ```ts ignore
 * const q = createMatmul(rt, { weight: wq, x: xNorm, y: qBuf, maxTokens: 64, step });
 * q.encode(pass);
 * ```
 *
 * @param rt runtime (device and pipeline cache)
 * @param options weight, activations, token count and flags
 * @returns the dispatch (one per chunk)
 * @throws {RangeError} if the columns are not a whole number of blocks, `maxTokens` is not a positive integer, or a buffer is too small
 * @throws {LimitError} if X or Y exceeds one storage binding (too many tokens for a wide weight), or a row needs more loop iterations than lavapipe runs
 */
export function createMatmul(rt: GpuRuntime, options: MatmulOptions): OwnedDispatch {
  const { weight, x, y, maxTokens } = options;
  const label = quantLabel("matmul", weight.type);
  checkQuantWeight(label, weight);
  if (!Number.isInteger(maxTokens) || maxTokens < 1) {
    throw new RangeError(
      `Cannot run ${label}: maxTokens is ${maxTokens}, expected a positive integer`,
    );
  }
  const onWeight = `${label} on weight "${weight.name}"`;
  requireElements(onWeight, "x", x, maxTokens * weight.cols, `${maxTokens}×${weight.cols}`);
  requireElements(onWeight, "y", y, maxTokens * weight.rows, `${maxTokens}×${weight.rows}`);
  const wide = weight.rows * weight.cols >= MATMUL_WIDE_ELEMENTS;
  const tt = wide ? MATMUL_TILE_TOKENS.wide : MATMUL_TILE_TOKENS.narrow;
  checkLoopBudget(label, `rows of ${weight.cols} columns`, matmulLoopBound(weight.cols, tt));
  checkBindable(rt.device, label, `input "x" for weight "${weight.name}"`, x);
  checkBindable(rt.device, label, `output "y" for weight "${weight.name}"`, y);
  const input = activationInput(weight.cols);
  const pipeline = rt.pipelines.get({
    label: label + input.suffix,
    code: quantKernelSource(
      weight.type,
      input.code + STEP_WGSL +
        specializeSource(body, {
          WIDE: wide,
          NARROW: !wide,
          PARTIAL8: weight.cols % 8 !== 0,
          PARTIAL4: weight.cols % 4 !== 0,
        }),
    ),
    constants: quantConstants(weight),
  });
  const step = options.step ??
    createFixedStep(rt.device, maxTokens, `${label}:step:${weight.name}`);
  const maxPerDim = rt.device.limits.maxComputeWorkgroupsPerDimension;
  const tokenTiles = Math.ceil(maxTokens / tt);
  const rowTiles = (chunk: WeightChunk) => Math.ceil(chunk.rowCount / MATMUL_TILE_ROWS);
  return createChunkDispatch(rt, {
    label,
    pipeline,
    weight,
    buffers: [x, y, step],
    params: (chunk) => [
      chunk.rowCount,
      weight.cols,
      weight.rowBytes,
      chunk.firstRow,
      weight.rows,
      maxTokens,
      rowTiles(chunk),
      options.accumulate ? 1 : 0,
    ],
    grid: (chunk) => gridFor(rowTiles(chunk) * tokenTiles, maxPerDim),
    owned: options.step ? [] : [step],
  });
}

/** Columns matmul_tiled advances per K step (KC in the kernel). */
const MATMUL_K_STEP = 32;

/**
 * Worst-case loop iterations of one matmul_tiled invocation with a `tt`-token
 * tile (the bound in the kernel header): per K step 1 + 4 (W tile) + tt/8
 * (X tile) + 8 (multiply), then tt/4 stores of 4 tokens.
 */
function matmulLoopBound(cols: number, tt: number): number {
  return (13 + tt / 8) * Math.ceil(cols / MATMUL_K_STEP) + tt;
}
