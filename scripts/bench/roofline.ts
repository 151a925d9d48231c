/**
 * Times the roofline microbenchmarks (roofline_ops.ts): the adapter's
 * streaming-read bandwidth and f32 multiply-add throughput, the two limits the
 * bench reports every kernel and pp/tg figure against.
 *
 * @module
 */

import { createStorage, createStorageFrom } from "../../src/gpu/buffers.ts";
import {
  createFmaChains,
  createReadReduction,
  fmaChainFlops,
  rooflineWorkgroup,
} from "./roofline_ops.ts";
import type { Dispatch, GpuRuntime } from "../../src/gpu/runtime.ts";
import { createTimer, TOTAL_LABEL } from "../../src/gpu/timing.ts";

/** The adapter's measured limits. */
export interface Roofline {
  /** Streaming read bandwidth, GB/s (10⁹ bytes). */
  readonly readGbPerSecond: number;
  /** f32 multiply-add throughput, GFLOP/s. */
  readonly fmaGflops: number;
}

/**
 * Milliseconds per run of `op`: the median of `rounds` submissions of `reps`
 * runs each, after one warm-up submission.
 *
 * @param rt runtime
 * @param op the dispatch to time
 * @param reps runs per submission
 * @param rounds timed submissions
 */
export async function timeDispatch(
  rt: GpuRuntime,
  op: Dispatch,
  reps: number,
  rounds: number,
): Promise<number> {
  const timer = createTimer(rt, 1);
  const run = async (count: number): Promise<number> => {
    const encoder = rt.device.createCommandEncoder({ label: "bench" });
    const pass = encoder.beginComputePass(timer.passDescriptor("op"));
    for (let i = 0; i < count; i++) op.encode(pass);
    pass.end();
    timer.resolve(encoder);
    rt.device.queue.submit([encoder.finish()]);
    return (await timer.read()).get(TOTAL_LABEL) ?? 0;
  };
  try {
    await run(1);
    const times: number[] = [];
    for (let i = 0; i < rounds; i++) times.push((await run(reps)) / reps);
    return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
  } finally {
    timer.destroy();
  }
}

/**
 * Measures both limits: a 64 MiB streaming reduction (far past any CPU cache)
 * and 4096-step multiply-add chains on enough invocations to fill every core
 * (64 workgroups of 8 on a CPU driver, 1024 of 256 on a GPU).
 *
 * @param rt runtime
 * @param quick smaller sizes for a smoke run
 * @returns the limits
 */
export async function measureRoofline(rt: GpuRuntime, quick = false): Promise<Roofline> {
  const count = (quick ? 8 : 64) * 2 ** 20 / 16;
  const workgroups = rt.ctx.isFallback ? 64 : 1024;
  const threads = workgroups * rooflineWorkgroup(rt);
  const src = createStorageFrom(rt.device, new Float32Array(4 * count).fill(1), "roofline:src");
  const out = createStorage(rt.device, 16 * threads, "roofline:out");
  const read = createReadReduction(rt, { src, count, out, workgroups });
  const iters = quick ? 512 : 4096;
  const fma = createFmaChains(rt, { out, workgroups, iters, b: 0.999, c: 0.001 });
  try {
    const readMs = await timeDispatch(rt, read, quick ? 2 : 5, 3);
    const fmaMs = await timeDispatch(rt, fma, quick ? 2 : 5, 3);
    return {
      readGbPerSecond: (16 * count) / (readMs * 1e6),
      fmaGflops: fmaChainFlops(threads, iters) / (fmaMs * 1e6),
    };
  } finally {
    read.destroy();
    fma.destroy();
    src.destroy();
    out.destroy();
  }
}
