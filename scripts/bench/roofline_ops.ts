/**
 * The adapter's own limits, as two microbenchmark kernels the bench times:
 * a streaming-read reduction (roofline_read.wgsl: bytes per second) and a
 * register-bound multiply-add loop (roofline_fma.wgsl: f32 flops per second).
 * Every kernel and pp/tg figure is reported as a share of them. Bench-only
 * (the product never runs them, so they live beside the bench, not in
 * kernels/). CPU twins: src/reference/roofline.ts.
 *
 * @module
 */

import readBody from "./roofline_read.wgsl" with { type: "text" };
import fmaBody from "./roofline_fma.wgsl" with { type: "text" };
import type { GpuRuntime } from "../../src/gpu/runtime.ts";
import type { OwnedDispatch } from "../../src/gpu/ops/quant_kernel.ts";
import {
  bindBuffers,
  createParams,
  dispatchSteps,
  requireElements,
} from "../../src/gpu/ops/op_support.ts";
import { checkBindable, checkLoopBudget } from "../../src/gpu/ops/silent_limits.ts";

/**
 * Threads per workgroup of the microbenchmarks: 8 on a CPU fallback adapter
 * (one SIMD group; wider groups stream several times slower there), 256 elsewhere.
 *
 * @param rt runtime
 */
export function rooflineWorkgroup(rt: GpuRuntime): number {
  return rt.ctx.isFallback ? 8 : 256;
}
/** Independent vec4 multiply-add chains per invocation of roofline_fma (CH in the kernel). */
export const FMA_CHAINS = 4;

/** Inputs of {@linkcode createReadReduction}. */
export interface ReadReductionOptions {
  /** The streamed buffer: `count` vec4 of f32. */
  readonly src: GPUBuffer;
  /** vec4 to read (the whole of `src` for a bandwidth figure). */
  readonly count: number;
  /** Output, `workgroups · wg` vec4: each invocation's partial sum. */
  readonly out: GPUBuffer;
  /** Workgroups in the dispatch. */
  readonly workgroups: number;
  /** Threads per workgroup; {@linkcode rooflineWorkgroup} when absent. */
  readonly wg?: number;
}

/**
 * vec4 each workgroup of the read reduction streams: `count` split evenly,
 * rounded up to a multiple of four times the workgroup size.
 *
 * @param count vec4 to read
 * @param workgroups workgroups in the dispatch
 * @param wg threads per workgroup
 */
export function readSpan(count: number, workgroups: number, wg: number): number {
  return Math.ceil(count / workgroups / (4 * wg)) * 4 * wg;
}

/**
 * Builds the streaming-read reduction: workgroup w sums its span of `src`,
 * thread l every wg-th vec4 of it from l (see roofline_read.wgsl).
 *
 * @param rt runtime
 * @param options buffers, vec4 count and workgroups
 * @returns one dispatch that owns its uniform
 * @throws {RangeError} if a buffer is too small
 * @throws {LimitError} if one invocation would loop more than lavapipe runs, or `src` exceeds a binding
 */
export function createReadReduction(rt: GpuRuntime, options: ReadReductionOptions): OwnedDispatch {
  const { src, count, out, workgroups } = options;
  const wg = options.wg ?? rooflineWorkgroup(rt);
  const threads = workgroups * wg;
  const span = readSpan(count, workgroups, wg);
  requireElements("roofline_read", "src", src, 4 * count, `${count} vec4`);
  requireElements("roofline_read", "out", out, 4 * threads, `${threads} vec4`);
  checkLoopBudget("roofline_read", `${count} vec4 on ${threads} threads`, span / (4 * wg));
  checkBindable(rt.device, "roofline_read", `input "src"`, src);
  const pipeline = rt.pipelines.get({
    label: "roofline_read",
    code: readBody,
    constants: { WG: wg },
  });
  const params = createParams(rt.device, "roofline_read:params", [["u", count], ["u", span]]);
  const bindGroup = bindBuffers(rt.device, pipeline, "roofline_read", [src, out, params]);
  return {
    ...dispatchSteps([{ pipeline, bindGroup, grid: [workgroups, 1] }]),
    destroy: () => params.destroy(),
  };
}

/** Inputs of {@linkcode createFmaChains}. */
export interface FmaChainsOptions {
  /** Output, `workgroups · wg` vec4: each invocation's sum of chains. */
  readonly out: GPUBuffer;
  /** Workgroups in the dispatch. */
  readonly workgroups: number;
  /** Threads per workgroup; {@linkcode rooflineWorkgroup} when absent. */
  readonly wg?: number;
  /** Multiply-add steps per chain, a multiple of 4. */
  readonly iters: number;
  /** Multiplier (|b| < 1 keeps the chains bounded). */
  readonly b: number;
  /** Addend. */
  readonly c: number;
}

/**
 * Builds the register-bound multiply-add loop (see roofline_fma.wgsl);
 * one dispatch does `workgroups · wg · iters · FMA_CHAINS · 8` flops.
 *
 * @param rt runtime
 * @param options output, workgroups and the recurrence
 * @returns one dispatch that owns its uniform
 * @throws {RangeError} if `out` is too small or `iters` is not a positive multiple of 4
 * @throws {LimitError} if `iters / 4` is more loop iterations than lavapipe runs
 */
export function createFmaChains(rt: GpuRuntime, options: FmaChainsOptions): OwnedDispatch {
  const { out, workgroups, iters } = options;
  const wg = options.wg ?? rooflineWorkgroup(rt);
  const threads = workgroups * wg;
  requireElements("roofline_fma", "out", out, 4 * threads, `${threads} vec4`);
  if (!Number.isInteger(iters / 4) || iters < 4) {
    throw new RangeError(
      `Cannot run roofline_fma: ${iters} steps, expected a positive multiple of 4`,
    );
  }
  checkLoopBudget("roofline_fma", `${iters} steps`, iters / 4);
  const pipeline = rt.pipelines.get({
    label: "roofline_fma",
    code: fmaBody,
    constants: { WG: wg },
  });
  const params = createParams(rt.device, "roofline_fma:params", [
    ["u", iters],
    ["f", options.b],
    ["f", options.c],
  ]);
  const bindGroup = bindBuffers(rt.device, pipeline, "roofline_fma", [out, params]);
  return {
    ...dispatchSteps([{ pipeline, bindGroup, grid: [workgroups, 1] }]),
    destroy: () => params.destroy(),
  };
}

/**
 * Flops of one {@linkcode createFmaChains} dispatch (a multiply-add counts two).
 *
 * @param threads invocations in the dispatch (workgroups · wg)
 * @param iters multiply-add steps per chain
 */
export function fmaChainFlops(threads: number, iters: number): number {
  return threads * iters * FMA_CHAINS * 4 * 2;
}
