/**
 * Decode mat-vec on GGUF blocks as uploaded: `y (+)= W·x` for one token, one
 * dispatch per weight chunk. Kernel: kernels/matvec_blocks.wgsl.
 *
 * @module
 */

import body from "../../../kernels/matvec_blocks.wgsl" with { type: "text" };
import xRmsNorm from "../../../kernels/_x_rms_norm.wgsl" with { type: "text" };
import xSiluMul from "../../../kernels/_x_silu_mul.wgsl" with { type: "text" };
import { ggmlTypeInfo } from "../../gguf/ggml_type.ts";
import type { GpuRuntime } from "../runtime.ts";
import type { GpuWeight } from "../weights.ts";
import { gridFor, requireElements } from "./op_support.ts";
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

/** Rows one workgroup computes (NR in the kernel). */
export const MATVEC_ROWS_PER_WORKGROUP = 8;

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
   * Threads per workgroup, a power of two; default 8 on a CPU fallback adapter
   * (one SIMD group, the fastest there) and 64 elsewhere.
   */
  readonly workgroupSize?: number;
}

/**
 * Builds the mat-vec `y = W·x` (or `y += W·x`): pipeline, one uniform and one
 * bind group per weight chunk, created once. No bias: qwen2's Q/K/V biases go
 * through the residual-add kernel.
 *
 * @example Record a projection in a compute pass
 * ```ts ignore
 * const q = createMatvec(rt, { weight: wq, x: xNorm, y: qBuf });
 * q.encode(pass);
 * ```
 *
 * @param rt runtime (device and pipeline cache)
 * @param options weight, vectors and flags
 * @returns the dispatch (one per chunk)
 * @throws {RangeError} if the columns are not a whole number of blocks, or a vector buffer is too small
 * @throws {LimitError} if a vector buffer exceeds one storage binding, or a row needs more loop iterations than lavapipe runs
 */
export function createMatvec(rt: GpuRuntime, options: MatvecOptions): OwnedDispatch {
  const { weight, x, y } = options;
  const label = quantLabel("matvec", weight.type);
  checkQuantWeight(label, weight);
  const onWeight = `${label} on weight "${weight.name}"`;
  requireElements(onWeight, "x", x, weight.cols, `${weight.cols}`);
  requireElements(onWeight, "y", y, weight.rows, `${weight.rows}`);
  const wg = options.workgroupSize ?? (rt.ctx.isFallback ? 8 : 64);
  if (!Number.isInteger(Math.log2(wg)) || wg > rt.device.limits.maxComputeInvocationsPerWorkgroup) {
    throw new RangeError(
      `Cannot run ${label}: workgroup size ${wg} is not a power of two within the device limit`,
    );
  }
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
  // The norm's epsilon as the u32 bits of its f32 (the uniform's fields are written as u32).
  const epsBits = new Uint32Array(new Float32Array([rmsNorm?.eps ?? 0]).buffer)[0]!;
  const normLoops = rmsNorm ? Math.ceil(weight.cols / (4 * wg)) + Math.log2(wg) : 0;
  checkLoopBudget(
    label,
    `rows of ${weight.cols} columns on ${wg} threads`,
    matvecLoopBound(weight, wg) + normLoops,
  );
  checkBindable(rt.device, label, `input "x" for weight "${weight.name}"`, x);
  checkBindable(rt.device, label, `output "y" for weight "${weight.name}"`, y);
  const input: ActivationInput = rmsNorm
    ? { code: xRmsNorm, suffix: "_rms_norm" }
    : siluUp
    ? { code: xSiluMul, suffix: "_silu_mul" }
    : activationInput(weight.cols);
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
      epsBits,
      options.accumulate ? 1 : 0,
    ],
    grid: (chunk) => gridFor(Math.ceil(chunk.rowCount / MATVEC_ROWS_PER_WORKGROUP), maxPerDim),
  });
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
