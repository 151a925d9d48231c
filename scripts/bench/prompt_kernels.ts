/**
 * Where a long prompt's time goes, per kernel and depth: one layer of the
 * Qwen2.5-0.5B shape (14 query heads, 2 KV heads × 64), a prompt chunk of
 * `-b` rows at depths 0, 512, 1024 and 1920: the prefill attention and the
 * column sums of the scoring policies, each variant interleaved round by
 * round in one process (medians; wall and this process's CPU time, the load
 * printed beside them).
 *
 * `deno run -A scripts/bench/prompt_kernels.ts [--rounds 3] [--rows 128] [--kv f32|f16]
 *   [--depths 0,512,1024,1920]` (a whole prompt: long_prompt.ts)
 *
 * @module
 */

import { loadavg } from "node:os";
import { createStorage, createStorageFrom, readBuffer } from "../../src/gpu/buffers.ts";
import { createAttentionPrefill } from "../../src/gpu/ops/attention.ts";
import { encodeKv, type KvType } from "../../src/gpu/ops/kv_elem.ts";
import { createColumnSums } from "../../src/gpu/ops/kv_column_sums.ts";
import { acquireGpu } from "../../src/gpu/device.ts";
import { createRuntime, type Dispatch, type GpuRuntime } from "../../src/gpu/runtime.ts";
import { createStepBuffer, writeStep } from "../../src/gpu/step.ts";
import { makeRng, randn } from "../../src/reference/prng.ts";
import { flagValue } from "./args.ts";
import { cpuSample, median } from "./machine.ts";

const ROUNDS = Number(flagValue(Deno.args, "--rounds", "3"));
const ROWS = Number(flagValue(Deno.args, "--rows", "128"));
const KV_TYPE = flagValue(Deno.args, "--kv", "f32") as KvType;
const DEPTHS = flagValue(Deno.args, "--depths", "0,512,1024,1920").split(",").map(Number);

/** The layer shape: Qwen2.5-0.5B. */
const SHAPE = { nHead: 14, nHeadKv: 2, headDim: 64 };

function random(n: number, seed: number): Float32Array<ArrayBuffer> {
  const rng = makeRng(seed);
  return Float32Array.from({ length: n }, () => randn(rng));
}

/** Wall and CPU milliseconds of one submission of `ops` (after it is warm). */
async function timeOnce(rt: GpuRuntime, ops: readonly Dispatch[]) {
  const c0 = cpuSample();
  const t0 = performance.now();
  const encoder = rt.device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  for (const op of ops) op.encode(pass);
  pass.end();
  rt.device.queue.submit([encoder.finish()]);
  await rt.device.queue.onSubmittedWorkDone();
  const wall = performance.now() - t0;
  const c1 = cpuSample();
  return { wall, cpu: c0 && c1 ? c1.self - c0.self : NaN };
}

/** One timed case: a label and the ops of one layer. */
interface Case {
  readonly label: string;
  readonly ops: readonly Dispatch[];
  readonly flops: number;
  readonly out: GPUBuffer;
}

/** The buffers of one chunk at `pos` over a cache of `nSlots` slots. */
function chunkBuffers(rt: GpuRuntime, pos: number, nSlots: number) {
  const { nHead, nHeadKv, headDim } = SHAPE;
  const T = ROWS;
  const q = createStorageFrom(rt.device, random(T * nHead * headDim, 1), "q");
  const kCache = createStorageFrom(
    rt.device,
    encodeKv(KV_TYPE, random(nHeadKv * nSlots * headDim, 2)),
    "k",
  );
  const vCache = createStorageFrom(
    rt.device,
    encodeKv(KV_TYPE, random(nHeadKv * nSlots * headDim, 3)),
    "v",
  );
  const lse = createStorage(rt.device, T * nHead * 4, "lse");
  const step = createStepBuffer(rt.device);
  writeStep(rt.device, step, { pos, nTokens: T, nKv: pos + T, seed: 0 });
  return { q, kCache, vCache, lse, step };
}

/**
 * The cases at one depth: each kernel's broadcast variant (the CPU adapter's
 * default) and the other one (a GPU's), over a cache of depth + rows slots.
 */
function casesAt(rt: GpuRuntime, pos: number): Case[] {
  const nSlots = pos + ROWS;
  const b = chunkBuffers(rt, pos, nSlots);
  const shape = { ...SHAPE, nSlots };
  const { nHead, headDim } = SHAPE;
  const kvTypes = { k: KV_TYPE, v: KV_TYPE };
  // Causal pairs (query row, key) of the chunk.
  const pairs = ROWS * pos + (ROWS * (ROWS + 1)) / 2;
  const cases: Case[] = [];
  for (const broadcast of [true, false]) {
    const out = createStorage(rt.device, ROWS * nHead * headDim * 4, "out");
    const attention = createAttentionPrefill(rt, {
      q: b.q,
      kCache: b.kCache,
      vCache: b.vCache,
      kvTypes,
      out,
      lse: b.lse,
      shape,
      step: b.step,
      maxTokens: ROWS,
      broadcast,
    });
    const name = broadcast ? "_broadcast" : "";
    cases.push({
      label: `attention${name}`,
      ops: [attention],
      flops: 4 * pairs * nHead * headDim,
      out,
    });
  }
  for (const broadcast of [true, false]) {
    const out = createStorage(rt.device, nHead * nSlots * 4, "colsum");
    const sums = createColumnSums(rt, {
      q: b.q,
      kCache: b.kCache,
      kvTypes,
      lse: b.lse,
      out,
      ...SHAPE,
      nSlots,
      maxTokens: ROWS,
      step: b.step,
      broadcast,
    });
    const name = broadcast ? "_broadcast" : "";
    cases.push({
      label: `column_sums${name}`,
      ops: [sums],
      flops: 2 * pairs * nHead * headDim,
      out,
    });
  }
  return cases;
}

const rt = createRuntime(await acquireGpu());
console.log(
  `prompt kernels: ${rt.ctx.description}; one layer ${SHAPE.nHead}/${SHAPE.nHeadKv} heads × ${SHAPE.headDim}, ${ROWS}-row chunk, ${KV_TYPE} cache, medians of ${ROUNDS}`,
);
for (const pos of DEPTHS) {
  const cases = casesAt(rt, pos);
  const ms = cases.map(() => ({ wall: [] as number[], cpu: [] as number[] }));
  const outs: Float32Array[] = [];
  for (const c of cases) {
    await timeOnce(rt, c.ops); // compile + warm
    outs.push(new Float32Array(await readBuffer(rt.device, c.out, c.out.size)));
  }
  for (const [x, y] of [[0, 1], [2, 3]] as const) {
    const [a, b] = [outs[x]!, outs[y]!];
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
    const total = a.reduce((t, v) => t + v, 0);
    console.log(
      `depth ${pos}: max |${cases[x]!.label} − ${cases[y]!.label}| = ${
        worst.toExponential(2)
      } (sum ${total.toFixed(3)})`,
    );
  }
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, c] of cases.entries()) {
      const t = await timeOnce(rt, c.ops);
      ms[i]!.wall.push(t.wall);
      ms[i]!.cpu.push(t.cpu);
    }
  }
  for (const [i, c] of cases.entries()) {
    const wall = median(ms[i]!.wall);
    const cpu = median(ms[i]!.cpu);
    console.log(
      `depth ${String(pos).padStart(4)} ${c.label.padEnd(24)} wall ${
        wall.toFixed(1).padStart(8)
      } ms  cpu ${cpu.toFixed(1).padStart(8)} ms  ${
        (c.flops / (cpu * 1e6)).toFixed(2)
      } GFLOP/cpu-s  (load ${loadavg()[0]!.toFixed(1)})`,
    );
  }
}
