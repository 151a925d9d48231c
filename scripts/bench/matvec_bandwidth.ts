/**
 * Measures the adapter's mat-vec bandwidth: how many weight bytes per second
 * the decode mat-vec streams for one type and shape, timed by the roofline
 * bench's {@linkcode timeDispatch}. `tests/kernels/matvec_bench.ts` prints it
 * per weight type.
 *
 * @module
 */

import type { GgmlType } from "../../src/gguf/ggml_type.ts";
import { quantize } from "../../src/gguf/quantize.ts";
import { makeRng, randn } from "../../src/sample/prng.ts";
import { createStorage } from "../../src/gpu/buffers.ts";
import type { GpuRuntime } from "../../src/gpu/runtime.ts";
import { createGpuWeight, destroyGpuWeight } from "../../src/gpu/weights.ts";
import { createMatvec } from "../../src/gpu/ops/matvec.ts";
import { timeDispatch } from "./roofline.ts";

/** Result of {@linkcode measureMatvecBandwidth}. */
export interface MatvecBandwidth {
  /** Weight bytes streamed per second, in GB/s (10⁹ bytes). */
  readonly gbPerSecond: number;
  /** Milliseconds per mat-vec. */
  readonly msPerMatvec: number;
  /** Bytes of the weight. */
  readonly weightBytes: number;
  /** Whether GPU timestamps (not the wall clock) timed the run. */
  readonly timestamps: boolean;
}

/**
 * Runs `iters` mat-vecs of a `rows × cols` weight in `type` in one compute
 * pass (after one warm-up) and reports the weight bytes streamed per second.
 * Every row holds the same seeded random block data, so setup stays cheap.
 *
 * @example Bandwidth of a 4096×4096 Q4_0 mat-vec
 * ```ts ignore
 * const { gbPerSecond } = await measureMatvecBandwidth(rt, GgmlType.Q4_0, 4096, 4096, 10);
 * ```
 *
 * @param rt runtime
 * @param type weight type
 * @param rows weight rows
 * @param cols weight columns (a multiple of the type's block size)
 * @param iters mat-vecs to time
 * @returns the bandwidth and time per mat-vec
 */
export async function measureMatvecBandwidth(
  rt: GpuRuntime,
  type: GgmlType,
  rows: number,
  cols: number,
  iters: number,
): Promise<MatvecBandwidth> {
  const rng = makeRng(1);
  const row = quantize(type, Float32Array.from({ length: cols }, () => randn(rng)));
  const bytes = new Uint8Array(rows * row.length);
  for (let r = 0; r < rows; r++) bytes.set(row, r * row.length);
  const weight = createGpuWeight(rt, bytes, { name: "bandwidth", type, rows, cols });
  const x = createStorage(rt.device, cols * 4, "bandwidth:x");
  const y = createStorage(rt.device, rows * 4, "bandwidth:y");
  const op = createMatvec(rt, { weight, x, y });
  try {
    const msPerMatvec = await timeDispatch(rt, op, iters, 1);
    return {
      gbPerSecond: msPerMatvec > 0 ? weight.byteSize / (msPerMatvec * 1e6) : 0,
      msPerMatvec,
      weightBytes: weight.byteSize,
      timestamps: rt.ctx.hasTimestamps,
    };
  } finally {
    op.destroy();
    destroyGpuWeight(weight);
    x.destroy();
    y.destroy();
  }
}
