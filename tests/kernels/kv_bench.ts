/**
 * Wall-clock timings of the KV kernels on the current adapter (run with
 * `deno run -A tests/kernels/kv_bench.ts`): one layer's decode write + eviction
 * per token, and a prompt's compression, for a stories260K-sized layer
 * (4 KV heads × 8) and a Llama-sized one (8 KV heads × 128), d2o at 20%.
 *
 * @module
 */

import { createStorage, createStorageFrom, readBuffer } from "../../src/gpu/buffers.ts";
import { createKvCompress } from "../../src/gpu/ops/kv_compress.ts";
import { createKvEvict } from "../../src/gpu/ops/kv_evict.ts";
import { createKvSlotTable } from "../../src/gpu/ops/kv_slot_table.ts";
import { createKvWriteSlot } from "../../src/gpu/ops/kv_write_slot.ts";
import { createRuntime, type Dispatch, type GpuRuntime } from "../../src/gpu/runtime.ts";
import { createStepBuffer, writeStep } from "../../src/gpu/step.ts";
import { splitBudget } from "../../src/kv/budget.ts";
import { gpuLayerSpec } from "../../src/kv/layer_spec.ts";
import { resolveKvOptions } from "../../src/kv/options.ts";
import { createKvPolicy } from "../../src/kv/registry.ts";
import { makeRng, randn } from "../../src/reference/prng.ts";
import { testGpu } from "../_gpu.ts";

const rt = createRuntime(await testGpu());
const options = resolveKvOptions({ kv: "d2o" });
const spec = createKvPolicy(options).spec;

function random(n: number, seed: number, positive = false): Float32Array<ArrayBuffer> {
  const rng = makeRng(seed);
  return Float32Array.from({ length: n }, () => positive ? rng() : randn(rng));
}

/** Milliseconds per repetition of `dispatches` (each repetition its own submit), after a warm-up. */
async function time(r: GpuRuntime, dispatches: Dispatch[], reps: number, before?: () => void) {
  const run = (n: number) => {
    for (let i = 0; i < n; i++) {
      before?.();
      const encoder = r.device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      for (const d of dispatches) d.encode(pass);
      pass.end();
      r.device.queue.submit([encoder.finish()]);
    }
    return r.device.queue.onSubmittedWorkDone();
  };
  await run(2);
  const t0 = performance.now();
  await run(reps);
  return (performance.now() - t0) / reps;
}

async function decode(nHeadKv: number, headDim: number, slots: number) {
  const budget = splitBudget(slots, options.recentRatio, options.sinks);
  const nSlots = slots + 1;
  const table = createKvSlotTable(rt, { nHeadKv, nSlots });
  const cache = nHeadKv * nSlots * headDim;
  const kCache = createStorageFrom(rt.device, random(cache, 1), "k");
  const vCache = createStorageFrom(rt.device, random(cache, 2), "v");
  const k = createStorageFrom(rt.device, random(nHeadKv * headDim, 3), "k_row");
  const step = createStepBuffer(rt.device);
  const pos = new Int32Array(nHeadKv * nSlots);
  for (let h = 0; h < nHeadKv; h++) for (let s = 0; s < nSlots; s++) pos[h * nSlots + s] = s;
  rt.device.queue.writeBuffer(table.pos, 0, pos);
  rt.device.queue.writeBuffer(table.score, 0, random(nHeadKv * nSlots, 4, true));
  const state = new Uint32Array(4 + nHeadKv);
  state[0] = 0x7fc00000;
  state[1] = slots;
  rt.device.queue.writeBuffer(table.state, 0, state);
  let t = nSlots;
  const caches = { kCache, vCache, table, headDim, step };
  const write = createKvWriteSlot(rt, { ...caches, k, v: k });
  const evict = createKvEvict(rt, { ...caches, layer: gpuLayerSpec(spec, budget, nSlots) });
  const next = () => writeStep(rt.device, step, { pos: t, nTokens: 1, nKv: ++t, seed: 0 });
  const both = await time(rt, [write, evict], 100, next);
  const writeOnly = await time(rt, [write], 100, next);
  await readBuffer(rt.device, table.state, 4);
  for (const b of [kCache, vCache, k, step, evict.picks]) b.destroy();
  table.destroy();
  return { both, writeOnly };
}

async function compress(nHead: number, nHeadKv: number, headDim: number, tokens: number) {
  const slots = Math.round(tokens * 0.2);
  const budget = splitBudget(slots, options.recentRatio, options.sinks);
  const nSlots = slots + 1;
  const staging = {
    kCache: createStorageFrom(rt.device, random(nHeadKv * tokens * headDim, 5), "sk"),
    vCache: createStorageFrom(rt.device, random(nHeadKv * tokens * headDim, 6), "sv"),
    nSlots: tokens,
  };
  const colsum = createStorageFrom(rt.device, random(nHead * tokens, 7, true), "colsum");
  const table = createKvSlotTable(rt, { nHeadKv, nSlots });
  const dest = {
    kCache: createStorage(rt.device, nHeadKv * nSlots * headDim * 4, "dk"),
    vCache: createStorage(rt.device, nHeadKv * nSlots * headDim * 4, "dv"),
    table,
  };
  const op = createKvCompress(rt, {
    layer: gpuLayerSpec(spec, budget, nSlots),
    tokens,
    staging,
    colsum,
    nHead,
    dest,
    headDim,
  });
  const ms = await time(rt, [op], 3);
  op.destroy();
  for (const b of [staging.kCache, staging.vCache, colsum, dest.kCache, dest.vCache]) b.destroy();
  table.destroy();
  return ms;
}

console.log(`adapter: ${rt.ctx.description}`);
for (const [nHeadKv, headDim, slots] of [[4, 8, 102], [4, 8, 410], [8, 128, 410], [8, 128, 1638]]) {
  const r = await decode(nHeadKv!, headDim!, slots!);
  console.log(
    `decode nHeadKv=${nHeadKv} headDim=${headDim} C=${slots}: write+evict ${
      r.both.toFixed(3)
    } ms, ` +
      `write alone ${r.writeOnly.toFixed(3)} ms per token per layer`,
  );
}
for (const [nHead, nHeadKv, headDim] of [[8, 4, 8], [32, 8, 128]]) {
  for (const tokens of [512, 2048]) {
    const ms = await compress(nHead!, nHeadKv!, headDim!, tokens);
    console.log(
      `compress nHead=${nHead} nHeadKv=${nHeadKv} headDim=${headDim} T'=${tokens} (C=${
        Math.round(tokens * 0.2)
      }): ${ms.toFixed(1)} ms`,
    );
  }
}
