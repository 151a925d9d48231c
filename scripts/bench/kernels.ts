/**
 * Times the weight kernels on their own, at model shapes: the prompt mat-mul
 * (GFLOP/s, as a share of the FMA roofline) and the decode mat-vec (GB/s of
 * weight bytes, as a share of the streaming-read roofline).
 *
 * @module
 */

import { type GgmlType, ggmlTypeName } from "../../src/gguf/ggml_type.ts";
import { quantize } from "../../src/gguf/quantize.ts";
import { createStorage, createStorageFrom } from "../../src/gpu/buffers.ts";
import { createMatmul, type MatmulTileName } from "../../src/gpu/ops/matmul.ts";
import { createMatvec } from "../../src/gpu/ops/matvec.ts";
import type { GpuRuntime } from "../../src/gpu/runtime.ts";
import { createGpuWeight, destroyGpuWeight, type GpuWeight } from "../../src/gpu/weights.ts";
import { makeRng, randn } from "../../src/reference/prng.ts";
import { timeDispatch } from "./roofline.ts";

/** One kernel timing. */
export interface KernelFigure {
  /** Milliseconds per dispatch. */
  readonly ms: number;
  /** GFLOP/s (mat-mul: 2·rows·cols·tokens flops). */
  readonly gflops: number;
  /** Weight GB/s (weight bytes / time). */
  readonly gbPerSecond: number;
}

/** A `rows × cols` weight in `type` with seeded random rows (one row repeated, so setup is cheap). */
function benchWeight(rt: GpuRuntime, type: GgmlType, rows: number, cols: number): GpuWeight {
  const rng = makeRng(rows + cols);
  const row = quantize(type, Float32Array.from({ length: cols }, () => randn(rng)));
  const bytes = new Uint8Array(rows * row.length);
  for (let r = 0; r < rows; r++) bytes.set(row, r * row.length);
  return createGpuWeight(rt, bytes, { name: "bench", type, rows, cols });
}

/**
 * Times `Y = X·Wᵀ` for `tokens` tokens (the prompt mat-mul) or, with
 * `tokens = 1`, `y = W·x` (the decode mat-vec).
 *
 * @param rt runtime
 * @param type weight type
 * @param rows weight rows
 * @param cols weight columns
 * @param tokens tokens (1: the mat-vec)
 * @param reps dispatches per timed submission
 * @param tile the mat-mul's workgroup tile (default: the op's choice for the adapter)
 */
export async function timeWeightKernel(
  rt: GpuRuntime,
  type: GgmlType,
  rows: number,
  cols: number,
  tokens: number,
  reps: number,
  tile?: MatmulTileName,
): Promise<KernelFigure> {
  const weight = benchWeight(rt, type, rows, cols);
  const rng = makeRng(3);
  const x = createStorageFrom(
    rt.device,
    Float32Array.from({ length: tokens * cols }, () => randn(rng)),
    "bench:x",
  );
  const y = createStorage(rt.device, tokens * rows * 4, "bench:y");
  const op = tokens === 1
    ? createMatvec(rt, { weight, x, y })
    : createMatmul(rt, { weight, x, y, maxTokens: tokens, ...(tile ? { tile } : {}) });
  try {
    const ms = await timeDispatch(rt, op, reps, 3);
    return {
      ms,
      gflops: (2 * rows * cols * tokens) / (ms * 1e6),
      gbPerSecond: weight.byteSize / (ms * 1e6),
    };
  } finally {
    op.destroy();
    destroyGpuWeight(weight);
    x.destroy();
    y.destroy();
  }
}

/**
 * A one-line label of a kernel shape, e.g. `matmul Q8_0 2048×768 ×128`.
 *
 * @param type weight type
 * @param rows weight rows
 * @param cols weight columns
 * @param tokens tokens (1: the mat-vec)
 */
export function kernelLabel(type: GgmlType, rows: number, cols: number, tokens: number): string {
  const op = tokens === 1 ? "matvec" : "matmul";
  return `${op} ${ggmlTypeName(type)} ${rows}×${cols}${tokens === 1 ? "" : ` ×${tokens}`}`;
}
