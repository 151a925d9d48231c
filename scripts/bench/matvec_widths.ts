/**
 * The decode mat-vec at the widths of real models (896: Qwen2.5 0.5B, 2048:
 * Llama 3.2 1B, 4096: 7-8B, 8192: the down projection's input of 1B-3B
 * models) for the types of a Q4_K_M file (Q4_K, Q5_0, Q6_K, Q8_0), as weight
 * GB/s and shares of the adapter's streaming read, measured again just before
 * each row (other processes' load moves it). Each weight is about 64 MiB,
 * the read roofline's size, so neither is served from a CPU's last-level
 * cache. On a CPU fallback adapter both kernels run interleaved,
 * the default (matvec_rows.wgsl) and the GPU one (matvec_blocks.wgsl), and
 * each figure also comes as GB per CPU-second of this process beside the
 * roofline's: other processes' load moves wall-clock rates, hardly CPU time.
 *
 * @module
 */

import { GgmlType, ggmlTypeInfo, ggmlTypeName, rowBytes } from "../../src/gguf/ggml_type.ts";
import { quantize } from "../../src/gguf/quantize.ts";
import { createStorage, createStorageFrom } from "../../src/gpu/buffers.ts";
import { createMatvec, matvecRowsByDefault } from "../../src/gpu/ops/matvec.ts";
import type { Dispatch, GpuRuntime } from "../../src/gpu/runtime.ts";
import { createGpuWeight, destroyGpuWeight } from "../../src/gpu/weights.ts";
import { makeRng, randn } from "../../src/reference/prng.ts";
import { cpuSample } from "./machine.ts";
import { timeDispatch } from "./roofline.ts";
import { createReadReduction, rooflineWorkgroup } from "./roofline_ops.ts";

/** The widths (columns) the table covers. */
export const MATVEC_WIDTHS: readonly number[] = [896, 2048, 4096, 8192];

/** The weight types the table covers: a Q4_K_M file's. */
export const MATVEC_WIDTH_TYPES: readonly GgmlType[] = [
  GgmlType.Q4_K,
  GgmlType.Q5_0,
  GgmlType.Q6_K,
  GgmlType.Q8_0,
];

/** One timing: wall-clock (or GPU timestamp) and CPU-time rates of the same runs. */
interface Rate {
  /** Milliseconds per run. */
  readonly ms: number;
  /** Bytes per second over `ms`, GB/s. */
  readonly gbPerSecond: number;
  /** Bytes per CPU-second of this process (all its threads), GB. */
  readonly gbPerCpuSecond: number;
}

/**
 * Times `op` (timeDispatch: one warm-up, then 3 rounds of `reps`) as rates
 * over `bytes`, after a first run of its own: a CPU driver compiles a
 * pipeline at its first dispatch, which the CPU time must not count.
 */
async function rate(rt: GpuRuntime, op: Dispatch, bytes: number, reps: number): Promise<Rate> {
  const encoder = rt.device.createCommandEncoder({ label: "widths:first" });
  const pass = encoder.beginComputePass();
  op.encode(pass);
  pass.end();
  rt.device.queue.submit([encoder.finish()]);
  await rt.device.queue.onSubmittedWorkDone();
  const before = cpuSample();
  const ms = await timeDispatch(rt, op, reps, 3);
  const after = cpuSample();
  const cpuMs = before && after ? (after.self - before.self) / (1 + 3 * reps) : 0;
  return {
    ms,
    gbPerSecond: bytes / (ms * 1e6),
    gbPerCpuSecond: cpuMs > 0 ? bytes / (cpuMs * 1e6) : 0,
  };
}

function pct(share: number): string {
  return `${(100 * share).toFixed(0)}%`.padStart(4);
}

/** `r` as GB/s and shares of `roof`, the CPU-time figures too where they were taken. */
function rateText(r: Rate, roof: Rate, cpu: boolean): string {
  const wall = `${r.gbPerSecond.toFixed(2).padStart(5)} GB/s ${
    pct(r.gbPerSecond / roof.gbPerSecond)
  }`;
  return cpu
    ? `${wall}  ${r.gbPerCpuSecond.toFixed(2).padStart(5)} GB/cpu-s ${
      pct(r.gbPerCpuSecond / roof.gbPerCpuSecond)
    }`
    : wall;
}

/**
 * Prints the table: per type and width the mat-vec's rate and its share of
 * the streaming read, the read measured again before each type.
 *
 * @param rt runtime
 * @param quick 8 MiB weights and one rep (a smoke run)
 */
export async function benchMatvecWidths(rt: GpuRuntime, quick = false): Promise<void> {
  const mib = quick ? 8 : 64;
  const cpu = rt.ctx.isFallback;
  console.log(
    `\n## Decode mat-vec at real widths (${mib} MiB weights; GB/s and share of the streaming read${
      cpu ? "; also GB per CPU-second of this process and its share" : ""
    })`,
  );
  const count = mib * 2 ** 20 / 16;
  const src = createStorageFrom(rt.device, new Float32Array(4 * count).fill(1), "widths:src");
  const out = createStorage(rt.device, 16 * 64 * rooflineWorkgroup(rt), "widths:out");
  const read = createReadReduction(rt, { src, count, out, workgroups: 64 });
  try {
    for (const type of MATVEC_WIDTH_TYPES) {
      for (const cols of MATVEC_WIDTHS) await benchWidth(rt, type, cols, mib, read, quick);
    }
  } finally {
    read.destroy();
    src.destroy();
    out.destroy();
  }
}

/**
 * One row of the table: the streaming read (`read`, `mib` MiB), then the
 * default kernel and, on a CPU adapter, the GPU layout beside it, as shares of
 * that read.
 */
async function benchWidth(
  rt: GpuRuntime,
  type: GgmlType,
  cols: number,
  mib: number,
  read: Dispatch,
  quick: boolean,
): Promise<void> {
  const label = `${ggmlTypeName(type)} ×${cols}`.padEnd(12);
  if (cols % ggmlTypeInfo(type).blockElems !== 0) {
    console.log(
      `    ${label} —  (rows of ${cols} are not whole blocks: Q4_K_M files take Q5_0/Q8_0)`,
    );
    return;
  }
  const rb = rowBytes(type, cols);
  const rows = Math.ceil(mib * 2 ** 20 / rb / 64) * 64;
  const rng = makeRng(cols);
  const row = quantize(type, Float32Array.from({ length: cols }, () => randn(rng)));
  const bytes = new Uint8Array(rows * rb);
  for (let r = 0; r < rows; r++) bytes.set(row, r * rb);
  const weight = createGpuWeight(rt, bytes, { name: "widths", type, rows, cols });
  const x = createStorageFrom(
    rt.device,
    Float32Array.from({ length: cols }, () => randn(rng)),
    "x",
  );
  const y = createStorage(rt.device, rows * 4, "widths:y");
  // The adapter's default first: rows on a CPU adapter where it fits, else blocks.
  const kernels: [string, Dispatch][] = matvecRowsByDefault(rt, weight)
    ? [
      ["rows", createMatvec(rt, { weight, x, y })],
      ["blocks", createMatvec(rt, { weight, x, y, rowsPerThread: false })],
    ]
    : [["blocks", createMatvec(rt, { weight, x, y })]];
  try {
    const roof = await rate(rt, read, mib * 2 ** 20, quick ? 1 : 3);
    const texts = [`read ${rateText(roof, roof, rt.ctx.isFallback).replaceAll(" 100%", "")}`];
    for (const [name, op] of kernels) {
      const r = await rate(rt, op, weight.byteSize, quick ? 1 : 3);
      texts.push(
        `${name} ${r.ms.toFixed(1).padStart(6)} ms ${rateText(r, roof, rt.ctx.isFallback)}`,
      );
    }
    console.log(`  ${label} ${String(rows).padStart(6)} rows  ${texts.join("  |  ")}`);
  } finally {
    for (const [, op] of kernels) op.destroy();
    destroyGpuWeight(weight);
    x.destroy();
    y.destroy();
  }
}
