/**
 * Host side of `kernels/rope.wgsl`: rotary position embedding of Q and K in
 * place, at the positions the step uniform gives.
 *
 * @module
 */

import src from "../../../kernels/rope.wgsl" with { type: "text" };
import { ropeInvFreq, type RopeOptions } from "./rope_freqs.ts";
import { createStorageFrom } from "../buffers.ts";
import type { Dispatch, GpuRuntime } from "../runtime.ts";
import { STEP_WGSL } from "../step.ts";
import {
  bindBuffers,
  createParams,
  dispatchSteps,
  opLabel,
  requireElements,
  requireGroupCount,
} from "./op_support.ts";
import { checkBindable } from "./silent_limits.ts";

/** Buffers and sizes of a RoPE dispatch. */
export interface RopeOpOptions {
  /** Queries (maxTokens × nHead × headDim), rotated in place. */
  readonly q: GPUBuffer;
  /** Keys (maxTokens × nHeadKv × headDim), rotated in place. */
  readonly k: GPUBuffer;
  /** Query heads. */
  readonly nHead: number;
  /** Key heads. */
  readonly nHeadKv: number;
  /** Most tokens in one step; rows past `step.n_tokens` are skipped. */
  readonly maxTokens: number;
  /** The step uniform (pos, n_tokens). */
  readonly step: GPUBuffer;
  /** Rotation style, sizes, base and optional frequency factors. */
  readonly rope: RopeOptions;
  /** GPU label suffix naming the call site. */
  readonly label?: string;
}

/**
 * Creates a RoPE dispatch rotating `step.n_tokens` tokens of Q and K starting
 * at position `step.pos`.
 *
 * @param rt GPU runtime
 * @param options buffers, sizes and rotation settings
 * @returns the recorded dispatch (one invocation per head and pair)
 * @throws {RangeError} when a buffer is too small or the rotary settings are invalid
 * @throws {LimitError} when Q or K exceeds one storage binding
 */
export function createRope(rt: GpuRuntime, options: RopeOpOptions): Dispatch {
  const { q, k, nHead, nHeadKv, maxTokens, step } = options;
  const { headDim, style } = options.rope;
  const label = opLabel("rope", options.label);
  const invFreq = ropeInvFreq(options.rope);
  const half = invFreq.length;
  requireElements("rope", "q", q, maxTokens * nHead * headDim, `${maxTokens}×${nHead}×${headDim}`);
  requireElements(
    "rope",
    "k",
    k,
    maxTokens * nHeadKv * headDim,
    `${maxTokens}×${nHeadKv}×${headDim}`,
  );
  requireGroupCount("rope", "tokens", maxTokens);
  const device = rt.device;
  checkBindable(device, "rope", `buffer "q"`, q);
  checkBindable(device, "rope", `buffer "k"`, k);
  const freqBuffer = createStorageFrom(device, invFreq, `${label}.inv_freq`);
  const pipeline = rt.pipelines.get({ label: "rope", code: STEP_WGSL + src });
  const params = createParams(device, `${label}.params`, [
    ["u", nHead],
    ["u", nHeadKv],
    ["u", headDim],
    ["u", half],
    ["u", style === "neox" ? 1 : 0],
  ]);
  const bindGroup = bindBuffers(device, pipeline, label, [q, k, freqBuffer, step, params]);
  const groups = Math.ceil(((nHead + nHeadKv) * half) / 64);
  return dispatchSteps([{ pipeline, bindGroup, grid: [groups, maxTokens] }], [params, freqBuffer]);
}
