/**
 * Host side of `kernels/argmax.wgsl`: greedy token choice on the GPU.
 *
 * @module
 */

import src from "../../../kernels/argmax.wgsl" with { type: "text" };
import type { Dispatch, GpuRuntime } from "../runtime.ts";
import { bindBuffers, createParams, requireElements } from "./op_support.ts";

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
 * @example
 * ```ts ignore
 * createArgmax(rt, { logits, out: nextToken, nVocab }).encode(pass);
 * ```
 */
export function createArgmax(rt: GpuRuntime, options: ArgmaxOptions): Dispatch {
  const { logits, out, nVocab } = options;
  const outIndex = options.outIndex ?? 0;
  requireElements("argmax", "logits", logits, nVocab, `${nVocab}`);
  requireElements("argmax", "out", out, outIndex + 1, `${outIndex} + 1`);
  const pipeline = rt.pipelines.get({ label: "argmax", code: src });
  const params = createParams(rt.device, "argmax.params", [["u", nVocab], ["u", outIndex]]);
  const bindGroup = bindBuffers(rt.device, pipeline, "argmax", [logits, out, params]);
  return {
    encode(pass) {
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(1);
    },
  };
}
