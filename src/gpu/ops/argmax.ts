/**
 * Host side of `kernels/argmax.wgsl`: greedy token choice on the GPU.
 *
 * @module
 */

import src from "../../../kernels/argmax.wgsl" with { type: "text" };
import type { Dispatch, GpuRuntime } from "../runtime.ts";
import { bindBuffers, createParams, dispatchSteps, requireElements } from "./op_support.ts";
import { checkBindable, checkLoopBudget } from "./silent_limits.ts";

/**
 * Threads of the single argmax workgroup (WG in the kernel): 256 on a GPU; 8
 * (one SIMD group, no barrier rounds) on a CPU fallback adapter.
 */
function workgroupSize(rt: GpuRuntime): number {
  return rt.ctx.isFallback ? 8 : 256;
}

/** Buffers and sizes of an argmax dispatch. */
export interface ArgmaxOptions {
  /** Logits (nVocab). */
  readonly logits: GPUBuffer;
  /** Receives the token id (u32) at element `outIndex`. */
  readonly out: GPUBuffer;
  /** Vocabulary size. */
  readonly nVocab: number;
  /** Element of `out` to write; defaults to 0. */
  readonly outIndex?: number;
}

/**
 * Creates an argmax dispatch writing the id of the largest logit (ties → lowest id).
 *
 * @param rt GPU runtime
 * @param options buffers and sizes
 * @returns the recorded dispatch (a single workgroup)
 * @throws {RangeError} when a buffer is too small
 * @throws {LimitError} when the logits exceed one storage binding or need more loop iterations than lavapipe runs
 */
export function createArgmax(rt: GpuRuntime, options: ArgmaxOptions): Dispatch {
  const { logits, out, nVocab } = options;
  const outIndex = options.outIndex ?? 0;
  requireElements("argmax", "logits", logits, nVocab, `${nVocab}`);
  requireElements("argmax", "out", out, outIndex + 1, `${outIndex} + 1`);
  const WG = workgroupSize(rt);
  // Kernel bound: a strided scan of the logits plus log2(WG) reduction steps.
  checkLoopBudget("argmax", `${nVocab} logits`, Math.ceil(nVocab / WG) + Math.log2(WG));
  checkBindable(rt.device, "argmax", `buffer "logits"`, logits);
  const pipeline = rt.pipelines.get({ label: "argmax", code: src, constants: { WG } });
  const params = createParams(rt.device, "argmax.params", [["u", nVocab], ["u", outIndex]]);
  const bindGroup = bindBuffers(rt.device, pipeline, "argmax", [logits, out, params]);
  return dispatchSteps([{ pipeline, bindGroup, grid: [1] }], [params]);
}
