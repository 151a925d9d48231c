/**
 * Batched decode mat-vec on GGUF blocks as uploaded: `Y[b] (+)= W·X[b]` for
 * the step's input rows, in groups of up to 8: each dispatch dequantizes each
 * weight group once for the 8 rows of its group. Kernels:
 * kernels/matvec_batch.wgsl, and on a CPU fallback adapter for Q8_0, Q5_0,
 * Q4_K and Q6_K kernels/matvec_rows.wgsl over staged groups of rows (each
 * thread owns whole weight rows; 1.3-2.3x faster there at 8 rows).
 *
 * @module
 */

import body from "../../../kernels/matvec_batch.wgsl" with { type: "text" };
import xUniform from "../../../kernels/_x_uniform.wgsl" with { type: "text" };
import xVec4 from "../../../kernels/_x_vec4.wgsl" with { type: "text" };
import type { GpuRuntime } from "../runtime.ts";
import { STEP_WGSL } from "../step.ts";
import { STORAGE_USAGE } from "../buffers.ts";
import type { GpuWeight } from "../weights.ts";
import { gridFor, requireElements } from "./op_support.ts";
import { checkBindable, checkLoopBudget } from "./silent_limits.ts";
import {
  choosesRowsKernel,
  createRowsStaging,
  matvecRowsByDefault,
  rowsKernel,
  rowsParams,
  type RowsStaging,
  rowsUnitCols,
} from "./matvec.ts";
import {
  activationInput,
  checkQuantWeight,
  createChunkDispatch,
  createFixedStep,
  type OwnedDispatch,
  quantConstants,
  quantKernelSource,
  quantLabel,
} from "./quant_kernel.ts";

/** Input rows one dispatch serves (the largest NB the kernel takes); more rows take more dispatches. */
export const MATVEC_BATCH_GROUP_ROWS = 8;
/** Weight rows one workgroup computes (NR in the kernel). */
const ROWS_PER_WORKGROUP = 8;
/** Bytes of the uniform one group's input rows are read through (_x_uniform.wgsl, or matvec_rows' staged rows). */
const WINDOW_BYTES = 65536;
/** Usage an input buffer needs for the uniform window. */
export const MATVEC_BATCH_INPUT_USAGE = STORAGE_USAGE | GPUBufferUsage.UNIFORM;

/** Inputs of {@linkcode createMatvecBatch}. */
export interface MatvecBatchOptions {
  /** The weight, `rows × cols` (`cols` a multiple of 8). */
  readonly weight: GpuWeight;
  /** Input X, `maxRows × cols` f32, row-major. */
  readonly x: GPUBuffer;
  /** Output Y, `maxRows × rows` f32, row-major. */
  readonly y: GPUBuffer;
  /** Input rows X and Y hold (at least 1): one dispatch per group of {@linkcode MATVEC_BATCH_GROUP_ROWS}. */
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
  /**
   * Run matvec_rows.wgsl over staged groups of input rows (each thread owns
   * whole weight rows; {@linkcode createRowsMatvecBatch}). Default: on a CPU
   * fallback adapter where the weight fits it ({@linkcode matvecRowsByDefault}).
   */
  readonly rowsPerThread?: boolean;
  /**
   * Read each group's input rows through a 64 KiB uniform window
   * (_x_uniform.wgsl; faster on CPU drivers) rather than the storage binding.
   * Default: on a fallback adapter, when {@linkcode matvecBatchWindowFits}.
   */
  readonly inputWindow?: boolean;
}

/**
 * Bytes an input buffer of `maxRows × cols` f32 needs so that every group's
 * uniform window lies inside it (the last group's window runs 64 KiB from its
 * first row).
 *
 * @param maxRows input rows
 * @param cols elements per row
 */
export function matvecBatchInputBytes(maxRows: number, cols: number): number {
  const groupBytes = MATVEC_BATCH_GROUP_ROWS * cols * 4;
  const lastGroup = Math.floor((maxRows - 1) / MATVEC_BATCH_GROUP_ROWS);
  return Math.max(maxRows * cols * 4, lastGroup * groupBytes + WINDOW_BYTES);
}

/**
 * Whether the input `x` of a `maxRows`-row batched mat-vec over `cols`
 * columns can be read through uniform windows: a group's rows fit 64 KiB
 * (and the device's uniform binding), `x` is a uniform buffer of
 * {@linkcode matvecBatchInputBytes}, and group offsets meet the uniform
 * offset alignment.
 *
 * @param device the device
 * @param x the input buffer
 * @param maxRows input rows
 * @param cols elements per row
 */
export function matvecBatchWindowFits(
  device: GPUDevice,
  x: GPUBuffer,
  maxRows: number,
  cols: number,
): boolean {
  const groupBytes = Math.min(maxRows, MATVEC_BATCH_GROUP_ROWS) * cols * 4;
  return groupBytes <= WINDOW_BYTES &&
    device.limits.maxUniformBufferBindingSize >= WINDOW_BYTES &&
    (x.usage & GPUBufferUsage.UNIFORM) !== 0 &&
    x.size >= matvecBatchInputBytes(maxRows, cols) &&
    (maxRows <= MATVEC_BATCH_GROUP_ROWS ||
      groupBytes % device.limits.minUniformBufferOffsetAlignment === 0);
}

/**
 * The batched mat-vec: `encode` runs all `maxRows` rows, `encodeRows` the
 * first `rows` of them — one dispatch per group of
 * {@linkcode MATVEC_BATCH_GROUP_ROWS}, the last group's through the pipeline
 * for the smallest power of two of rows that covers it (a pipeline built for
 * 8 rows costs about as much for 1 or 2 on a CPU driver: 1.5-2.5× the one
 * built for them).
 */
export interface MatvecBatchDispatch extends OwnedDispatch {
  /**
   * Records the mat-vec for the first `rows` input rows (the step uniform's
   * `n_tokens` must say at least as many); pipelines for a new last-group
   * size compile on first use.
   */
  encodeRows(pass: GPUComputePassEncoder, rows: number): void;
}

/**
 * The most rows for which the batched mat-vec of `weight` beats the tiled
 * mat-mul on this adapter (measured on lavapipe,
 * docs/results/2026-12-06-short-prompts.md): 64 through matvec_rows.wgsl
 * (its default on a CPU adapter, {@linkcode matvecRowsByDefault}), 32 through
 * matvec_batch.wgsl.
 *
 * @param rt runtime (its adapter)
 * @param weight the weight
 */
export function matvecBatchBestRows(rt: GpuRuntime, weight: GpuWeight): number {
  return matvecRowsByDefault(rt, weight) ? 64 : 32;
}

/**
 * Whether {@linkcode createMatvecBatch} takes `weight` (its rows must be whole 8-element groups).
 *
 * @param weight the weight
 */
export function matvecBatchFits(weight: GpuWeight): boolean {
  return weight.cols % 8 === 0;
}

/**
 * Builds the batched mat-vec `Y = X·Wᵀ` (or `Y += X·Wᵀ`) for a decode step of
 * a few sequences: pipeline, uniforms and one bind group per weight chunk,
 * created once.
 *
 * @param rt runtime (device and pipeline cache)
 * @param options weight, activations, row count and flags
 * @returns the dispatch (one per chunk and group of rows)
 * @throws {RangeError} if the columns are not a multiple of 8 and of the block, `maxRows` is out of range, a buffer is too small, or `inputWindow` is asked for where it does not fit
 * @throws {LimitError} if X or Y exceeds one storage binding, or a row needs more loop iterations than lavapipe runs
 */
export function createMatvecBatch(
  rt: GpuRuntime,
  options: MatvecBatchOptions,
): MatvecBatchDispatch {
  const { weight, x, y, maxRows } = options;
  const label = quantLabel("matvec_batch", weight.type);
  checkQuantWeight(label, weight);
  if (!Number.isInteger(maxRows) || maxRows < 1 || !matvecBatchFits(weight)) {
    throw new RangeError(
      `Cannot run ${label}: ${maxRows} rows of ${weight.cols} columns, expected at least 1 row of a multiple of 8 columns`,
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
  if (choosesRowsKernel(rt, weight, label, options.rowsPerThread)) {
    return createRowsMatvecBatch(rt, { ...options, label });
  }
  const groupRows = Math.min(maxRows, MATVEC_BATCH_GROUP_ROWS);
  const fits = matvecBatchWindowFits(rt.device, x, maxRows, weight.cols);
  const windowed = options.inputWindow ?? (rt.ctx.isFallback && fits);
  if (windowed && !fits) {
    throw new RangeError(
      `Cannot run ${label} on weight "${weight.name}" through a uniform window: ${groupRows} rows of ${weight.cols} columns, or an input buffer without uniform usage or under ${
        matvecBatchInputBytes(maxRows, weight.cols)
      } bytes`,
    );
  }
  const cells = ROWS_PER_WORKGROUP * groupRows;
  checkLoopBudget(
    label,
    `rows of ${weight.cols} columns for ${groupRows} inputs on ${wg} threads`,
    Math.ceil(weight.cols / 8 / wg) + Math.log2(wg) * (1 + cells) + Math.ceil(cells / wg),
  );
  checkBindable(rt.device, label, `input "x" for weight "${weight.name}"`, x);
  checkBindable(rt.device, label, `output "y" for weight "${weight.name}"`, y);
  const step = options.step ??
    createFixedStep(rt.device, maxRows, `${label}:step:${weight.name}`);
  const source = quantKernelSource(weight.type, STEP_WGSL + body + (windowed ? xUniform : xVec4));
  const maxPerDim = rt.device.limits.maxComputeWorkgroupsPerDimension;
  // Dispatches of group g for the pipeline serving nb rows, built on first use.
  const built = new Map<string, OwnedDispatch>();
  const group = (g: number, nb: number): OwnedDispatch => {
    const key = `${g}:${nb}`;
    let op = built.get(key);
    if (op) return op;
    const pipeline = rt.pipelines.get({
      label,
      code: source,
      constants: { ...quantConstants(weight), WG: wg, NB: nb },
    });
    op = createChunkDispatch(rt, {
      label,
      pipeline,
      weight,
      buffers: [
        windowed ? { buffer: x, offset: g * groupRows * weight.cols * 4, size: WINDOW_BYTES } : x,
        y,
      ],
      after: [step],
      params: (chunk) => [
        chunk.rowCount,
        weight.cols,
        weight.rowBytes,
        chunk.firstRow,
        weight.rows,
        options.accumulate ? 1 : 0,
        g * groupRows,
        windowed ? 0 : g * groupRows * weight.cols,
      ],
      grid: (chunk) => gridFor(Math.ceil(chunk.rowCount / ROWS_PER_WORKGROUP), maxPerDim),
    });
    built.set(key, op);
    return op;
  };
  const encodeRows = (pass: GPUComputePassEncoder, rows: number) => {
    if (!Number.isInteger(rows) || rows < 1 || rows > maxRows) {
      throw new RangeError(`Cannot run ${label} for ${rows} rows: built for 1 to ${maxRows}`);
    }
    for (let first = 0; first < rows; first += groupRows) {
      group(first / groupRows, servingRows(Math.min(rows - first, groupRows), groupRows)).encode(
        pass,
      );
    }
  };
  group(0, groupRows); // the full group's pipeline compiles now, not in the first step
  return {
    encode: (pass) => encodeRows(pass, maxRows),
    encodeRows,
    destroy() {
      for (const op of built.values()) op.destroy();
      if (!options.step) step.destroy();
    },
  };
}

/** One group of input rows over one span of columns, in createRowsMatvecBatch. */
interface RowsPart {
  /** The group (its first input row is g · group rows). */
  readonly g: number;
  /** The group's rows' staged columns, read as a uniform. */
  readonly staged: GPUBuffer;
  /** The dispatch that stages them. */
  readonly staging: RowsStaging;
  /** The mat-vec's params: the span's columns and first unit, the group's first row, accumulate. */
  readonly at: Parameters<typeof rowsParams>[2];
  /** The mat-vec for n real rows, by n (built on first use). */
  readonly built: Map<number, OwnedDispatch>;
}

/**
 * The batched mat-vec through matvec_rows.wgsl: the input rows in groups of
 * up to {@linkcode MATVEC_BATCH_GROUP_ROWS}, their columns in spans that let
 * a group's staged rows fit one 64 KiB uniform (2,048 columns for 8 rows).
 * Per group and span, matvec_input.wgsl stages the rows' columns into a
 * buffer of their own, then one dispatch per weight chunk reads each weight
 * unit of the span once for all of the group's rows, adding into y after the
 * first span. A last group of fewer rows runs a pipeline built for that many
 * (compiled on first use).
 */
function createRowsMatvecBatch(
  rt: GpuRuntime,
  options: MatvecBatchOptions & { readonly label: string },
): MatvecBatchDispatch {
  const { weight, x, y, maxRows, label } = options;
  const groupRows = Math.min(maxRows, MATVEC_BATCH_GROUP_ROWS);
  const unitCols = rowsUnitCols(weight);
  const span = Math.min(
    weight.cols,
    Math.floor(WINDOW_BYTES / (4 * groupRows * unitCols)) * unitCols,
  );
  const step = options.step ??
    createFixedStep(rt.device, maxRows, `${label}:step:${weight.name}`);
  const input = activationInput(weight.cols);
  const parts: RowsPart[] = [];
  for (let g = 0; g * groupRows < maxRows; g++) {
    for (let firstCol = 0; firstCol < weight.cols; firstCol += span) {
      const cols = Math.min(span, weight.cols - firstCol);
      const staged = rt.device.createBuffer({
        label: `${label}:staged:${g}:${firstCol}:${weight.name}`,
        size: groupRows * span * 4,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.UNIFORM,
      });
      const firstInput = g * groupRows;
      const staging = createRowsStaging(rt, {
        label,
        weight,
        x,
        staged,
        input,
        firstInput,
        firstCol,
        cols,
        sums: false,
      });
      const accumulate = firstCol > 0 || (options.accumulate ?? false);
      const at = { accumulate, cols, firstInput, firstUnit: firstCol / unitCols };
      parts.push({ g, staged, staging, at, built: new Map<number, OwnedDispatch>() });
    }
  }
  // A part's mat-vec for a pipeline reading n staged rows, built on first use.
  const dispatch = (part: RowsPart, n: number): OwnedDispatch => {
    let op = part.built.get(n);
    if (op) return op;
    const kernel = rowsKernel(rt, weight, label, { inputs: n, cols: span });
    op = createChunkDispatch(rt, {
      label,
      pipeline: kernel.pipeline,
      weight,
      buffers: [part.staged, y],
      after: [step],
      params: (chunk) => rowsParams(weight, chunk, part.at),
      grid: kernel.grid,
    });
    part.built.set(n, op);
    return op;
  };
  const encodeRows = (pass: GPUComputePassEncoder, rows: number) => {
    if (!Number.isInteger(rows) || rows < 1 || rows > maxRows) {
      throw new RangeError(`Cannot run ${label} for ${rows} rows: built for 1 to ${maxRows}`);
    }
    for (const part of parts) {
      const n = Math.min(rows - part.g * groupRows, groupRows);
      if (n <= 0) break;
      part.staging.encode(pass, n);
      dispatch(part, n).encode(pass);
    }
  };
  for (const part of parts) if (part.g === 0) dispatch(part, groupRows); // compile now, not in the first step
  return {
    encode: (pass) => encodeRows(pass, maxRows),
    encodeRows,
    destroy() {
      for (const { staged, staging, built } of parts) {
        for (const op of built.values()) op.destroy();
        staging.destroy();
        staged.destroy();
      }
      if (!options.step) step.destroy();
    },
  };
}

/** The pipeline row count that serves `rows` rows: the next power of two, at most `groupRows`. */
function servingRows(rows: number, groupRows: number): number {
  return Math.min(2 ** Math.ceil(Math.log2(rows)), groupRows);
}
