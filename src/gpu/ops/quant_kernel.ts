/**
 * Shared host-side pieces of the kernels that read GGUF weight blocks as
 * uploaded (mat-vec, mat-mul, embedding lookup): the WGSL source for a type
 * (byte helpers + the type's `deq8` snippet + the op body), the column rule
 * every such op checks, and the per-chunk uniform buffers.
 *
 * @module
 */

import { GgmlType, ggmlTypeInfo, ggmlTypeName } from "../../gguf/ggml_type.ts";
import common from "../../../kernels/_quant_common.wgsl" with { type: "text" };
import f32 from "../../../kernels/_quant_f32.wgsl" with { type: "text" };
import f16 from "../../../kernels/_quant_f16.wgsl" with { type: "text" };
import bf16 from "../../../kernels/_quant_bf16.wgsl" with { type: "text" };
import q4_0 from "../../../kernels/_quant_q4_0.wgsl" with { type: "text" };
import q4_1 from "../../../kernels/_quant_q4_1.wgsl" with { type: "text" };
import q5_0 from "../../../kernels/_quant_q5_0.wgsl" with { type: "text" };
import q5_1 from "../../../kernels/_quant_q5_1.wgsl" with { type: "text" };
import q8_0 from "../../../kernels/_quant_q8_0.wgsl" with { type: "text" };
import q4_k from "../../../kernels/_quant_q4_k.wgsl" with { type: "text" };
import q5_k from "../../../kernels/_quant_q5_k.wgsl" with { type: "text" };
import q6_k from "../../../kernels/_quant_q6_k.wgsl" with { type: "text" };
import xVec4 from "../../../kernels/_x_vec4.wgsl" with { type: "text" };
import xF32 from "../../../kernels/_x_f32.wgsl" with { type: "text" };
import type { GpuWeight } from "../weights.ts";
import type { Dispatch } from "../runtime.ts";

const SNIPPETS: ReadonlyMap<GgmlType, string> = new Map([
  [GgmlType.F32, f32],
  [GgmlType.F16, f16],
  [GgmlType.BF16, bf16],
  [GgmlType.Q4_0, q4_0],
  [GgmlType.Q4_1, q4_1],
  [GgmlType.Q5_0, q5_0],
  [GgmlType.Q5_1, q5_1],
  [GgmlType.Q8_0, q8_0],
  [GgmlType.Q4_K, q4_k],
  [GgmlType.Q5_K, q5_k],
  [GgmlType.Q6_K, q6_k],
]);

/**
 * The full WGSL of `body` specialised to the weight type `type`.
 *
 * @param type weight element type
 * @param body op body WGSL (declares `wq` and uses `QK`, `QB`, `deq8`)
 * @returns common helpers + the type's snippet + the body
 * @throws {RangeError} if no kernel reads `type`
 */
export function quantKernelSource(type: GgmlType, body: string): string {
  const snippet = SNIPPETS.get(type);
  if (snippet === undefined) {
    throw new RangeError(
      `Cannot build a kernel for ggml type ${ggmlTypeName(type)}: not supported`,
    );
  }
  return `${common}\n${snippet}\n${body}`;
}

/** WGSL declaring an op's activation input `x` and its readers, and the pipeline label suffix. */
export interface ActivationInput {
  /** The snippet (_x_vec4.wgsl or _x_f32.wgsl). */
  readonly code: string;
  /** Appended to the kernel label so each variant gets its own shader module. */
  readonly suffix: string;
}

/**
 * How an op whose activation rows hold `cols` f32 reads them: as vec4 (one
 * load per four values) when every row starts 16-byte aligned, else one value
 * at a time.
 *
 * @param cols elements per activation row
 */
export function activationInput(cols: number): ActivationInput {
  return cols % 4 === 0 ? { code: xVec4, suffix: "" } : { code: xF32, suffix: "_xf32" };
}

/**
 * Lower-case kernel label of an op on a type, e.g. `matvec_q4_k`.
 *
 * @param op op name
 * @param type weight element type
 */
export function quantLabel(op: string, type: GgmlType): string {
  return `${op}_${ggmlTypeName(type).toLowerCase()}`;
}

/**
 * The element count a row must be a multiple of for the block kernels: the
 * type's block size (1 for F32, F16 and BF16, whose rows may have any length).
 *
 * @param type weight element type
 */
export function quantColumnMultiple(type: GgmlType): number {
  return ggmlTypeInfo(type).blockElems;
}

/**
 * The override constants every block kernel takes from its weight:
 * `ROWS_ALIGNED` is 1 when each row starts 16-byte aligned (row bytes a
 * multiple of 16), which lets float-type reads take one 16-byte load.
 *
 * @param weight the uploaded weight
 * @returns the constants, to merge into the pipeline key
 */
export function quantConstants(weight: GpuWeight): Record<string, number> {
  return { ROWS_ALIGNED: weight.rowBytes % 16 === 0 ? 1 : 0 };
}

/**
 * Checks that the block kernels can read `weight`.
 *
 * @param op kernel label for messages, e.g. `matvec_q4_0`
 * @param weight the uploaded weight
 * @throws {RangeError} if its columns are not a positive multiple of {@linkcode quantColumnMultiple}
 */
export function checkQuantWeight(op: string, weight: GpuWeight): void {
  const multiple = quantColumnMultiple(weight.type);
  if (weight.cols % multiple !== 0 || weight.cols < 1) {
    throw new RangeError(
      `Cannot run ${op}: weight "${weight.name}" has ${weight.cols} columns, expected a positive multiple of ${multiple}`,
    );
  }
}

/**
 * Checks that `buffer` holds at least `bytes` bytes.
 *
 * @param op kernel label for messages
 * @param what the buffer's role, e.g. `input "x"`
 * @param buffer the buffer
 * @param bytes bytes the op reads or writes
 * @throws {RangeError} if the buffer is smaller
 */
export function checkBufferSize(op: string, what: string, buffer: GPUBuffer, bytes: number): void {
  if (buffer.size < bytes) {
    throw new RangeError(
      `Cannot run ${op}: ${what} holds ${buffer.size} bytes, expected at least ${bytes}`,
    );
  }
}

/**
 * Creates a uniform buffer holding `words` u32 values.
 *
 * @param device owning device
 * @param words values, in struct field order (padded to 16 bytes)
 * @param label GPU label
 */
export function createUniform(
  device: GPUDevice,
  words: readonly number[],
  label: string,
): GPUBuffer {
  const size = Math.max(16, Math.ceil(words.length / 4) * 16);
  const buffer = device.createBuffer({
    label,
    size,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    mappedAtCreation: true,
  });
  new Uint32Array(buffer.getMappedRange()).set(words);
  buffer.unmap();
  return buffer;
}

/** Most workgroups a dispatch may have along one dimension (WebGPU's default limit). */
export const MAX_WORKGROUPS_PER_DIM = 65535;

/**
 * Folds `count` workgroups into an x·y grid; kernels recover the linear id as
 * `wid.y · nwg.x + wid.x` and skip ids ≥ `count`.
 *
 * @param count workgroups needed (≥ 1)
 * @param maxPerDim the device's `maxComputeWorkgroupsPerDimension`
 * @returns `[x, y]` with x·y ≥ count and both ≤ maxPerDim
 */
export function foldGrid(count: number, maxPerDim = MAX_WORKGROUPS_PER_DIM): [number, number] {
  if (count <= maxPerDim) return [Math.max(1, count), 1];
  const y = Math.ceil(count / maxPerDim);
  return [Math.ceil(count / y), y];
}

/** A recorded op whose own uniform buffers can be released. */
export interface OwnedDispatch extends Dispatch {
  /** Destroys the uniform buffers the op created (not the weight or activations). */
  destroy(): void;
}
