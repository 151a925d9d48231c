/**
 * Shared host-side pieces of the kernels that read GGUF weight blocks as
 * uploaded (mat-vec, mat-mul, embedding lookup): the WGSL source for a type
 * (byte helpers + the type's `deq8` snippet + the op body), the column rule
 * every such op checks, and the dispatch over a weight's chunks with their
 * per-chunk uniforms.
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
import q5 from "../../../kernels/_quant_q5.wgsl" with { type: "text" };
import q5_0 from "../../../kernels/_quant_q5_0.wgsl" with { type: "text" };
import q5_1 from "../../../kernels/_quant_q5_1.wgsl" with { type: "text" };
import q8_0 from "../../../kernels/_quant_q8_0.wgsl" with { type: "text" };
import q4_k from "../../../kernels/_quant_q4_k.wgsl" with { type: "text" };
import q5_k from "../../../kernels/_quant_q5_k.wgsl" with { type: "text" };
import q6_k from "../../../kernels/_quant_q6_k.wgsl" with { type: "text" };
import xVec4 from "../../../kernels/_x_vec4.wgsl" with { type: "text" };
import xF32 from "../../../kernels/_x_f32.wgsl" with { type: "text" };
import type { GpuWeight, WeightChunk } from "../weights.ts";
import type { Dispatch, GpuRuntime } from "../runtime.ts";
import { bindBuffers, createParams, dispatchSteps } from "./op_support.ts";

const SNIPPETS: ReadonlyMap<GgmlType, string> = new Map([
  [GgmlType.F32, f32],
  [GgmlType.F16, f16],
  [GgmlType.BF16, bf16],
  [GgmlType.Q4_0, q4_0],
  [GgmlType.Q4_1, q4_1],
  [GgmlType.Q5_0, `${q5}\n${q5_0}`],
  [GgmlType.Q5_1, `${q5}\n${q5_1}`],
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

const SECTION = /^[ \t]*\/\/ @if (\w+)\n([\s\S]*?)^[ \t]*\/\/ @end \1\n/gm;

/**
 * `code` with each section `// @if NAME` … `// @end NAME` kept when
 * `flags[NAME]` is true and cut when false. Paths a weight never takes (the
 * quantized loop for a float type, the partial-group tails for rows in whole
 * groups) are left out of its shader this way: CPU drivers compile every
 * line, so a kernel without them compiles about twice as fast.
 *
 * @example Keep one section, cut another
 * ```ts
 * import assert from "node:assert/strict";
 * import { specializeSource } from "./quant_kernel.ts";
 * const code = "a\n// @if X\nb\n// @end X\n// @if Y\nc\n// @end Y\n";
 * assert.equal(specializeSource(code, { X: true, Y: false }), "a\nb\n");
 * assert.throws(() => specializeSource(code, { X: true }), /no flag for section "Y"/);
 * ```
 *
 * @param code WGSL with sections
 * @param flags which sections to keep, by name
 * @returns the WGSL without the cut sections and without the markers
 * @throws {RangeError} if a section's name has no flag
 */
export function specializeSource(code: string, flags: Readonly<Record<string, boolean>>): string {
  return code.replace(SECTION, (_, name: string, body: string) => {
    const keep = flags[name];
    if (keep === undefined) {
      throw new RangeError(`Cannot specialise kernel: no flag for section "${name}"`);
    }
    return keep ? body : "";
  });
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

/** A recorded op whose own uniform buffers can be released. */
export interface OwnedDispatch extends Dispatch {
  /** Destroys the uniform buffers the op created (not the weight or activations). */
  destroy(): void;
}

/** What {@linkcode createChunkDispatch} binds and dispatches for each weight chunk. */
export interface ChunkDispatchOptions {
  /** Kernel label, e.g. `matvec_q4_k`. */
  readonly label: string;
  /** The op's pipeline. */
  readonly pipeline: GPUComputePipeline;
  /** The weight whose chunks are dispatched one after another. */
  readonly weight: GpuWeight;
  /** Buffers bound after the chunk's blocks (binding 0) and before its `Params`. */
  readonly buffers: readonly (GPUBuffer | GPUBufferBinding)[];
  /** Buffers bound after the `Params` (a fused input reader's extra inputs). */
  readonly after?: readonly GPUBuffer[];
  /** The chunk's `Params` fields, all u32, in struct order. */
  params(chunk: WeightChunk): number[];
  /** The chunk's workgroup grid. */
  grid(chunk: WeightChunk): readonly [number, number];
  /** Uniforms the op created besides the per-chunk ones, destroyed with them. */
  readonly owned?: readonly GPUBuffer[];
}

/**
 * Records a block-kernel op: per weight chunk, a `Params` uniform, a bind
 * group `[chunk blocks, ...buffers, params, ...after]` and one dispatch, all
 * created once.
 *
 * @param rt runtime (device)
 * @param options pipeline, weight, bindings, per-chunk params and grids
 * @returns the dispatch, which owns its uniforms
 */
export function createChunkDispatch(rt: GpuRuntime, options: ChunkDispatchOptions): OwnedDispatch {
  const { label, pipeline, weight, buffers } = options;
  const uniforms = [...(options.owned ?? [])];
  const steps = weight.chunks.map((chunk) => {
    const fields = options.params(chunk).map((word) => ["u", word] as const);
    const params = createParams(rt.device, `${label}:params:${weight.name}`, fields);
    uniforms.push(params);
    const bound = [chunk.buffer, ...buffers, params, ...options.after ?? []];
    const bindGroup = bindBuffers(rt.device, pipeline, `${label}:${weight.name}`, bound);
    return { pipeline, bindGroup, grid: options.grid(chunk) };
  });
  return {
    ...dispatchSteps(steps),
    destroy() {
      for (const buffer of uniforms) buffer.destroy();
    },
  };
}

/**
 * A step uniform for ops recorded without the shared one: position 0 and
 * `maxTokens` tokens, so every dispatch processes `maxTokens`.
 *
 * @param device owning device
 * @param maxTokens tokens each dispatch processes
 * @param label GPU label
 * @returns the uniform (the caller owns it)
 */
export function createFixedStep(device: GPUDevice, maxTokens: number, label: string): GPUBuffer {
  return createParams(device, label, [["u", 0], ["u", maxTokens], ["u", 0], ["u", 0]]);
}
