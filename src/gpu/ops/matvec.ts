/**
 * Decode mat-vec on GGUF blocks as uploaded: `y (+)= W·x` for one token, one
 * dispatch per weight chunk. Two kernels: kernels/matvec_blocks.wgsl (every
 * type; threads split each row's columns, the GPU layout) and, on a CPU
 * fallback adapter for Q8_0, Q5_0, Q4_K and Q6_K, kernels/matvec_rows.wgsl
 * (each thread owns whole rows, x staged in a uniform buffer by
 * kernels/matvec_input.wgsl in a dispatch before).
 *
 * @module
 */

import body from "../../../kernels/matvec_blocks.wgsl" with { type: "text" };
import rowsBody from "../../../kernels/matvec_rows.wgsl" with { type: "text" };
import inputBody from "../../../kernels/matvec_input.wgsl" with { type: "text" };
import rowsQ8_0 from "../../../kernels/_matvec_rows_q8_0.wgsl" with { type: "text" };
import rowsQ5_0 from "../../../kernels/_matvec_rows_q5_0.wgsl" with { type: "text" };
import rowsQ4_K from "../../../kernels/_matvec_rows_q4_k.wgsl" with { type: "text" };
import rowsQ6_K from "../../../kernels/_matvec_rows_q6_k.wgsl" with { type: "text" };
import unitX from "../../../kernels/_matvec_rows_unit_x.wgsl" with { type: "text" };
import unitWords from "../../../kernels/_matvec_rows_unit_words.wgsl" with { type: "text" };
import xRmsNorm from "../../../kernels/_x_rms_norm.wgsl" with { type: "text" };
import xSiluMul from "../../../kernels/_x_silu_mul.wgsl" with { type: "text" };
import { GgmlType, ggmlTypeInfo } from "../../gguf/ggml_type.ts";
import type { GpuRuntime } from "../runtime.ts";
import type { GpuWeight } from "../weights.ts";
import { STEP_WGSL } from "../step.ts";
import { repeatLines } from "./matmul.ts";
import { createParams, gridFor, requireElements } from "./op_support.ts";
import { checkBindable, checkLoopBudget } from "./silent_limits.ts";
import {
  type ActivationInput,
  activationInput,
  checkQuantWeight,
  createChunkDispatch,
  type OwnedDispatch,
  quantConstants,
  quantKernelSource,
  quantLabel,
  specializeSource,
} from "./quant_kernel.ts";

/** Rows one workgroup of matvec_blocks.wgsl computes (NR in the kernel). */
export const MATVEC_ROWS_PER_WORKGROUP = 8;

/** How matvec_rows.wgsl runs one type. */
interface RowsUnit {
  /** The type's _matvec_rows_<type>.wgsl (its unit_dot). */
  readonly code: string;
  /** Columns one unit spans (rows must hold whole units). */
  readonly cols: number;
  /** Rows each thread owns (NL; 8 threads make a workgroup of 8·NL rows). */
  readonly threadRows: number;
  /**
   * Where a unit need not start 16-byte aligned: the vec4 it is read in, and
   * how two of them are realigned into four of its words (the section of
   * _matvec_rows_unit_words.wgsl: HALVES for units 8-byte aligned, BYTES for
   * any even byte). Absent for Q4_K, whose units start aligned and are read
   * in place.
   */
  readonly words?: { readonly loads: number; readonly realign: "HALVES" | "BYTES" };
}

/**
 * The types matvec_rows.wgsl covers. Each thread's rows are written out, so
 * NL sets the shader's size: 8 rows are 1.1× 4 for Q8_0 and Q4_K, about the
 * same for Q5_0 and Q6_K, whose 4 take half the JIT time at first use (Q6_K:
 * 2.3 s instead of 5.4 s under load, measured on lavapipe).
 */
const ROWS_UNITS: ReadonlyMap<GgmlType, RowsUnit> = new Map<GgmlType, RowsUnit>([
  [GgmlType.Q8_0, {
    code: rowsQ8_0,
    cols: 128,
    threadRows: 8,
    words: { loads: 9, realign: "HALVES" },
  }],
  [GgmlType.Q5_0, {
    code: rowsQ5_0,
    cols: 128,
    threadRows: 4,
    words: { loads: 6, realign: "HALVES" },
  }],
  [GgmlType.Q4_K, { code: rowsQ4_K, cols: 256, threadRows: 8 }],
  [GgmlType.Q6_K, {
    code: rowsQ6_K,
    cols: 256,
    threadRows: 4,
    words: { loads: 14, realign: "BYTES" },
  }],
]);

/** Inputs of {@linkcode createMatvec}. */
export interface MatvecOptions {
  /** The weight, `rows × cols`. */
  readonly weight: GpuWeight;
  /** Input vector, at least `cols` f32. */
  readonly x: GPUBuffer;
  /** Output vector, at least `rows` f32. */
  readonly y: GPUBuffer;
  /** Add into `y` instead of overwriting it (fuses the residual add). */
  readonly accumulate?: boolean;
  /**
   * Read the input through an RMS norm, `x / sqrt(mean(x²) + eps) * weight`
   * (fuses rms_norm; `cols` a multiple of 4).
   */
  readonly rmsNorm?: { readonly weight: GPUBuffer; readonly eps: number };
  /**
   * Read the input as `silu(x) * siluUp`, with `x` the gate projection (fuses
   * silu_mul; `cols` a multiple of 4).
   */
  readonly siluUp?: GPUBuffer;
  /**
   * Threads per workgroup of matvec_blocks.wgsl, a power of two; default 8 on
   * a CPU fallback adapter (one SIMD group, the fastest there) and 64
   * elsewhere. matvec_rows.wgsl always runs 8.
   */
  readonly workgroupSize?: number;
  /**
   * Run matvec_rows.wgsl (each thread owns whole rows, x staged in a uniform
   * buffer) rather than matvec_blocks.wgsl. Default: on a CPU fallback
   * adapter where {@linkcode matvecRowsFits}, where it is 2–3× faster; a GPU
   * reads that layout uncoalesced.
   */
  readonly rowsPerThread?: boolean;
}

/**
 * Whether matvec_rows.wgsl can run `weight`: a Q8_0, Q5_0, Q4_K or Q6_K
 * weight whose rows hold whole units (128 columns, 256 for the K-quants) and
 * whose staged input (x and its 16-value sums, `cols · 4 · 17/16` bytes) fits
 * one uniform binding of at most 64 KiB (about 15,400 columns).
 *
 * @param device the device (its uniform binding limit)
 * @param weight the uploaded weight
 */
export function matvecRowsFits(device: GPUDevice, weight: GpuWeight): boolean {
  const unit = ROWS_UNITS.get(weight.type);
  return unit !== undefined && weight.cols % unit.cols === 0 &&
    stagedBytes(weight.cols) <= Math.min(65536, device.limits.maxUniformBufferBindingSize);
}

/**
 * Whether a CPU fallback adapter runs `weight` through matvec_rows.wgsl by
 * default (one row or a batch): the adapter is a fallback and the weight
 * {@linkcode matvecRowsFits}.
 *
 * @param rt runtime (its adapter and device)
 * @param weight the weight
 */
export function matvecRowsByDefault(rt: GpuRuntime, weight: GpuWeight): boolean {
  return rt.ctx.isFallback && matvecRowsFits(rt.device, weight);
}

/**
 * Whether a mat-vec op runs matvec_rows.wgsl: as asked, else by default
 * ({@linkcode matvecRowsByDefault}).
 *
 * @param rt runtime
 * @param weight the weight
 * @param label the op's label, for the error
 * @param asked the op's `rowsPerThread` option
 * @throws {RangeError} when asked for a weight matvec_rows.wgsl cannot run
 */
export function choosesRowsKernel(
  rt: GpuRuntime,
  weight: GpuWeight,
  label: string,
  asked: boolean | undefined,
): boolean {
  if (asked === undefined) return matvecRowsByDefault(rt, weight);
  if (asked && !matvecRowsFits(rt.device, weight)) {
    throw new RangeError(
      `Cannot run ${label} with a thread per row on weight "${weight.name}": it takes Q8_0, Q5_0, Q4_K or Q6_K rows of whole units (128 columns, 256 for K-quants) up to about 15,400 columns, got ${weight.cols}`,
    );
  }
  return asked;
}

/**
 * Bytes matvec_input.wgsl stages for one input row of `cols` columns: x, then
 * one sum per 16 values.
 *
 * @param cols the weight's columns
 */
function stagedBytes(cols: number): number {
  return (cols / 4 + cols / 64) * 16;
}

/**
 * Builds the mat-vec `y = W·x` (or `y += W·x`): pipelines, uniforms and one
 * bind group per weight chunk, created once. No bias: qwen2's Q/K/V biases go
 * through the residual-add kernel.
 *
 * @param rt runtime (device and pipeline cache)
 * @param options weight, vectors and flags
 * @returns the dispatch (one per chunk, after the input's staging for matvec_rows)
 * @throws {RangeError} if the columns are not a whole number of blocks, a vector buffer is too small, or `rowsPerThread` is asked of a weight matvec_rows cannot run
 * @throws {LimitError} if a vector buffer exceeds one storage binding, or a row needs more loop iterations than lavapipe runs
 */
export function createMatvec(rt: GpuRuntime, options: MatvecOptions): OwnedDispatch {
  const { weight, x, y } = options;
  const label = quantLabel("matvec", weight.type);
  checkQuantWeight(label, weight);
  const onWeight = `${label} on weight "${weight.name}"`;
  requireElements(onWeight, "x", x, weight.cols, `${weight.cols}`);
  requireElements(onWeight, "y", y, weight.rows, `${weight.rows}`);
  const { rmsNorm, siluUp } = options;
  if (rmsNorm && siluUp) {
    throw new RangeError(`Cannot run ${label}: an RMS-normed input cannot also be a SiLU gate`);
  }
  const extra = rmsNorm?.weight ?? siluUp;
  if (extra) {
    const what = rmsNorm ? "norm weight" : "up";
    if (weight.cols % 4 !== 0) {
      throw new RangeError(
        `Cannot run ${label}: a fused ${what} input needs columns in fours, weight "${weight.name}" has ${weight.cols}`,
      );
    }
    requireElements(onWeight, what, extra, weight.cols, `${weight.cols}`);
    checkBindable(rt.device, label, `${what} for weight "${weight.name}"`, extra);
  }
  checkBindable(rt.device, label, `input "x" for weight "${weight.name}"`, x);
  checkBindable(rt.device, label, `output "y" for weight "${weight.name}"`, y);
  const rows = choosesRowsKernel(rt, weight, label, options.rowsPerThread);
  const input: ActivationInput = rmsNorm
    ? { code: xRmsNorm, suffix: "_rms_norm" }
    : siluUp
    ? { code: xSiluMul, suffix: "_silu_mul" }
    : activationInput(weight.cols);
  const checked = { ...options, label, input, extra };
  return rows ? createRowsMatvec(rt, checked) : createBlocksMatvec(rt, checked);
}

/** A mat-vec's inputs as createMatvec checked them, with what it derived for the kernel. */
interface CheckedMatvec extends MatvecOptions {
  /** Kernel label, e.g. `matvec_q4_k`. */
  readonly label: string;
  /** How the kernel reads its input (plain or through a fused reader). */
  readonly input: ActivationInput;
  /** The fused reader's second input (the norm weight or `siluUp`), bound after the params. */
  readonly extra: GPUBuffer | undefined;
}

/** The uniform's epsilon word: the fused norm's f32 epsilon as u32 bits (the fields are written as u32). */
function epsBits(eps: number): number {
  return new Uint32Array(new Float32Array([eps]).buffer)[0]!;
}

/** Loop iterations a fused RMS norm adds to one invocation on `wg` threads. */
function normLoops(normed: boolean, cols: number, wg: number): number {
  return normed ? Math.ceil(cols / (4 * wg)) + Math.log2(wg) : 0;
}

/** createMatvec through matvec_blocks.wgsl. */
function createBlocksMatvec(rt: GpuRuntime, options: CheckedMatvec): OwnedDispatch {
  const { weight, x, y, label, input, extra } = options;
  const wg = options.workgroupSize ?? (rt.ctx.isFallback ? 8 : 64);
  if (!Number.isInteger(Math.log2(wg)) || wg > rt.device.limits.maxComputeInvocationsPerWorkgroup) {
    throw new RangeError(
      `Cannot run ${label}: workgroup size ${wg} is not a power of two within the device limit`,
    );
  }
  checkLoopBudget(
    label,
    `rows of ${weight.cols} columns on ${wg} threads`,
    matvecLoopBound(weight, wg) + normLoops(options.rmsNorm !== undefined, weight.cols, wg),
  );
  const pipeline = rt.pipelines.get({
    label: label + input.suffix,
    code: quantKernelSource(weight.type, matvecBody(weight) + input.code),
    constants: { ...quantConstants(weight), WG: wg },
  });
  const maxPerDim = rt.device.limits.maxComputeWorkgroupsPerDimension;
  return createChunkDispatch(rt, {
    label,
    pipeline,
    weight,
    buffers: [x, y],
    after: extra ? [extra] : [],
    params: (chunk) => [
      chunk.rowCount,
      weight.cols,
      weight.rowBytes,
      chunk.firstRow,
      epsBits(options.rmsNorm?.eps ?? 0),
      options.accumulate ? 1 : 0,
    ],
    grid: (chunk) => gridFor(Math.ceil(chunk.rowCount / MATVEC_ROWS_PER_WORKGROUP), maxPerDim),
  });
}

/**
 * createMatvec through matvec_rows.wgsl (a weight {@linkcode matvecRowsFits}):
 * one dispatch of matvec_input.wgsl stages x̂ (through the fused reader) and
 * its 16-value sums into a buffer this op owns, then one dispatch per chunk
 * reads it as a uniform.
 */
function createRowsMatvec(rt: GpuRuntime, options: CheckedMatvec): OwnedDispatch {
  const { weight, y, label, input, extra } = options;
  const { device } = rt;
  const staged = device.createBuffer({
    label: `${label}:staged:${weight.name}`,
    size: stagedBytes(weight.cols),
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.UNIFORM,
  });
  const stage = createRowsStaging(rt, {
    label,
    weight,
    x: options.x,
    staged,
    input,
    extra,
    eps: options.rmsNorm?.eps ?? 0,
    firstInput: 0,
  });
  const rows = rowsKernel(rt, weight, label);
  const main = createChunkDispatch(rt, {
    label,
    pipeline: rows.pipeline,
    weight,
    buffers: [staged, y],
    params: (chunk) => rowsParams(weight, chunk, { accumulate: options.accumulate ?? false }),
    grid: rows.grid,
    owned: [staged],
  });
  return {
    encode(pass) {
      stage.encode(pass, 1);
      main.encode(pass);
    },
    destroy() {
      main.destroy();
      stage.destroy();
    },
  };
}

/** What {@linkcode createRowsStaging} stages. */
export interface RowsStagingOptions {
  /** Label of the mat-vec it serves. */
  readonly label: string;
  /** The weight (its columns). */
  readonly weight: GpuWeight;
  /** The activations, row-major rows of `weight.cols` f32. */
  readonly x: GPUBuffer;
  /** Where the staged inputs go, one after another ({@linkcode stagedBytes} each). */
  readonly staged: GPUBuffer;
  /** How x is read: plain, or through a fused reader (one input only). */
  readonly input: ActivationInput;
  /** The fused reader's second input. */
  readonly extra?: GPUBuffer | undefined;
  /** The fused RMS norm's epsilon (0 without it). */
  readonly eps?: number;
  /** The first row of x to stage. */
  readonly firstInput: number;
  /** The first column to stage (default 0). */
  readonly firstCol?: number;
  /** Columns to stage of each row (default all the weight's). */
  readonly cols?: number;
  /** Stage the 16-value sums after each row's x̂ (default true; a batch computes them itself). */
  readonly sums?: boolean;
}

/** matvec_input.wgsl staging rows of x for matvec_rows.wgsl: `encode(pass, n)` stages n rows. */
export interface RowsStaging {
  /** Records the staging of rows firstInput .. firstInput + n. */
  encode(pass: GPUComputePassEncoder, inputs: number): void;
  /** Frees its uniform. */
  destroy(): void;
}

/**
 * The staging dispatch of matvec_rows.wgsl's input: one workgroup of
 * matvec_input.wgsl per input row, each writing that row's x̂ (a range of its
 * columns) and, with `sums`, its 16-value sums ({@linkcode stagedBytes}),
 * after the previous row's.
 *
 * @param rt runtime
 * @param options the input, where it goes and how it is read
 * @returns the staging
 * @throws {LimitError} if a row needs more loop iterations than lavapipe runs
 */
export function createRowsStaging(rt: GpuRuntime, options: RowsStagingOptions): RowsStaging {
  const { weight, label, input, extra } = options;
  const cols = options.cols ?? weight.cols;
  const wg = rt.ctx.isFallback ? 8 : 64;
  checkLoopBudget(
    label,
    `the staged input of ${cols} columns on ${wg} threads`,
    Math.ceil(cols / (4 * wg)) + 4 * Math.ceil(cols / (64 * wg)) +
      normLoops(input.suffix === "_rms_norm", cols, wg),
  );
  const pipeline = rt.pipelines.get({
    label: `matvec_input${input.suffix}`,
    code: inputBody + input.code,
    constants: { WG: wg },
  });
  const params = createParams(rt.device, `matvec_input:params:${weight.name}`, [
    ["u", cols],
    ["u", epsBits(options.eps ?? 0)],
    ["u", options.firstInput],
    ["u", weight.cols],
    ["u", options.firstCol ?? 0],
    ["u", options.sums === false ? 0 : 1],
  ]);
  const bound = [options.x, options.staged, params, ...(extra ? [extra] : [])];
  const bindGroup = rt.device.createBindGroup({
    label: `matvec_input:${weight.name}`,
    layout: pipeline.getBindGroupLayout(0),
    entries: bound.map((buffer, i) => ({ binding: i + 1, resource: { buffer } })),
  });
  return {
    encode(pass, inputs) {
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(inputs);
    },
    destroy: () => params.destroy(),
  };
}

/** matvec_rows.wgsl for `weight` and `inputs` staged inputs: its pipeline and grid per chunk. */
export interface RowsKernel {
  /** The pipeline. */
  readonly pipeline: GPUComputePipeline;
  /** Workgroups for one chunk of the weight. */
  readonly grid: (chunk: { readonly rowCount: number }) => [number, number];
}

/**
 * matvec_rows.wgsl built for a weight: the decode mat-vec (one staged input
 * with its sums, bindings 0–3), or with `batch` a batch group's (`inputs`
 * staged rows of `batch.cols` columns each, sums computed in the kernel, and
 * the step uniform at binding 4 saying how many of the rows are real).
 *
 * @param rt runtime (pipeline cache)
 * @param weight a weight {@linkcode matvecRowsFits}
 * @param label the op's label
 * @param batch for a batch: the staged inputs and the columns staged of each
 * @returns the pipeline and its grid
 */
export function rowsKernel(
  rt: GpuRuntime,
  weight: GpuWeight,
  label: string,
  batch?: { readonly inputs: number; readonly cols: number },
): RowsKernel {
  const unit = ROWS_UNITS.get(weight.type)!;
  const inputs = batch?.inputs ?? 1;
  const vec4s = batch ? (inputs * batch.cols) / 4 : stagedBytes(weight.cols) / 16;
  const code = repeatLines(
    specializeSource(rowsBody, { BATCH: batch !== undefined, ONE: batch === undefined })
      .replaceAll("{XN}", `${vec4s}`),
    { rowBlocks: unit.threadRows, tokenBlocks: inputs, broadcast: false },
  );
  const pipeline = rt.pipelines.get({
    label: `matvec_rows_${label.slice(label.indexOf("_") + 1)}${batch ? `_x${inputs}` : ""}`,
    code: quantKernelSource(weight.type, (batch ? STEP_WGSL : "") + rowsUnitSource(unit) + code),
  });
  const rowsPerGroup = 8 * unit.threadRows;
  const maxPerDim = rt.device.limits.maxComputeWorkgroupsPerDimension;
  return {
    pipeline,
    grid: (chunk) => gridFor(Math.ceil(chunk.rowCount / rowsPerGroup), maxPerDim),
  };
}

/**
 * matvec_rows.wgsl's params for one chunk of the weight.
 *
 * @param weight the weight
 * @param chunk the chunk
 * @param at `accumulate`: add into y; for a batch group, the columns staged
 *   (`cols`, default all), the group's first input row and the first unit
 *   of columns (`firstInput`, `firstUnit`, default 0)
 */
export function rowsParams(
  weight: GpuWeight,
  chunk: { readonly rowCount: number; readonly firstRow: number },
  at: {
    readonly accumulate: boolean;
    readonly cols?: number;
    readonly firstInput?: number;
    readonly firstUnit?: number;
  },
): number[] {
  return [
    chunk.rowCount,
    at.cols ?? weight.cols,
    weight.rowBytes,
    chunk.firstRow,
    at.accumulate ? 1 : 0,
    weight.rows,
    at.firstInput ?? 0,
    at.firstUnit ?? 0,
  ];
}

/**
 * Columns matvec_rows.wgsl spans in one unit of `weight` (128, or 256 for
 * the K-quants).
 *
 * @param weight a weight {@linkcode matvecRowsFits}
 */
export function rowsUnitCols(weight: GpuWeight): number {
  return ROWS_UNITS.get(weight.type)!.cols;
}

/** `code` with each line marked `// @each i` written out for i < `count` (repeatLines). */
function eachLine(code: string, count: number): string {
  return repeatLines(code, { rowBlocks: count, tokenBlocks: 1, broadcast: false });
}

/**
 * The WGSL of one type's unit in matvec_rows.wgsl: UNIT and its x̂
 * (_matvec_rows_unit_x.wgsl), its realigned words where it has them
 * (_matvec_rows_unit_words.wgsl), and its unit_dot.
 */
function rowsUnitSource(unit: RowsUnit): string {
  const { words } = unit;
  const realigned = words === undefined ? "" : eachLine(
    specializeSource(unitWords, {
      HALVES: words.realign === "HALVES",
      BYTES: words.realign === "BYTES",
    }),
    words.loads - 1,
  );
  return eachLine(unitX, unit.cols / 32) + realigned + unit.code;
}

/** matvec_blocks.wgsl with only the paths `weight` takes (see its sections). */
function matvecBody(weight: GpuWeight): string {
  const quant = ggmlTypeInfo(weight.type).blockElems >= 32;
  return specializeSource(body, {
    QUANT: quant,
    FLOAT: !quant,
    PARTIAL: !quant && weight.cols % 8 !== 0,
  });
}

/**
 * Worst-case loop iterations of one matvec_blocks invocation (the bound in the
 * kernel header): its share of the row's 32-element (quantized) or 8-element
 * (float) groups, then log2(WG) reduction steps of 1 + NR iterations each.
 */
function matvecLoopBound(weight: GpuWeight, wg: number): number {
  const groups = ggmlTypeInfo(weight.type).blockElems >= 32
    ? weight.cols / 32
    : Math.floor(weight.cols / 8);
  return Math.ceil(groups / wg) + (1 + MATVEC_ROWS_PER_WORKGROUP) * Math.log2(wg);
}
