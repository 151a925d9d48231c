/**
 * Wall-clock timings of the KV kernels on the current adapter, f32 cache
 * against f16 cache, interleaved round by round in one process (medians;
 * the machine's load average is printed beside them). Run with
 * `deno run -A tests/kernels/kv_bench.ts [attention|policy] [--rounds N]`:
 * - attention: one layer of a Llama-3.2-1B shape (32 query heads, 8 KV
 *   heads × 64): decode attention over 512, 2048 and 4096 slots, and the
 *   prefill attention of a 128-token chunk at positions 1920..2047;
 * - policy: one layer's decode write + eviction per token, and a prompt's
 *   compression, for a stories260K-sized layer (4 KV heads × 8) and a
 *   Llama-sized one (8 KV heads × 128), d2o at 20%.
 *
 * @module
 */

import { createStorage, createStorageFrom, readBuffer } from "../../src/gpu/buffers.ts";
import { createAttentionDecode, createAttentionPrefill } from "../../src/gpu/ops/attention.ts";
import { createKvCompress } from "../../src/gpu/ops/kv_compress.ts";
import {
  encodeKv,
  KV_TYPES,
  kvCacheBytes,
  type KvType,
  kvTypes,
} from "../../src/gpu/ops/kv_elem.ts";
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
const roundsAt = Deno.args.indexOf("--rounds");
const ROUNDS = roundsAt >= 0 ? Number(Deno.args[roundsAt + 1]) : 5;
const only = Deno.args.find((a) => a === "attention" || a === "policy");

function random(n: number, seed: number, positive = false): Float32Array<ArrayBuffer> {
  const rng = makeRng(seed);
  return Float32Array.from({ length: n }, () => positive ? rng() : randn(rng));
}

/** A cache buffer of `type` holding seeded normal values. */
function cacheOf(type: KvType, n: number, seed: number, label: string): GPUBuffer {
  return createStorageFrom(rt.device, encodeKv(type, random(n, seed)), label);
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
  await run(1);
  const t0 = performance.now();
  await run(reps);
  return (performance.now() - t0) / reps;
}

/** One timed variant per cache type: `measure` runs one timing (ms), `destroy` frees it. */
interface Variant {
  readonly measure: () => Promise<number>;
  readonly destroy: () => void;
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function load(): string {
  return Deno.loadavg().map((x) => x.toFixed(1)).join(" ");
}

/** Times f32 and f16 interleaved for ROUNDS rounds; prints medians and the f32/f16 ratio. */
async function compareTypes(what: string, make: (type: KvType) => Variant): Promise<void> {
  const variants = KV_TYPES.map((type) => ({ type, v: make(type), ms: [] as number[] }));
  for (let r = 0; r < ROUNDS; r++) {
    for (const x of variants) x.ms.push(await x.v.measure());
  }
  const [f32, f16] = variants.map((x) => median(x.ms)) as [number, number];
  console.log(
    `${what}: f32 ${f32.toFixed(3)} ms, f16 ${f16.toFixed(3)} ms, f32/f16 ${
      (f32 / f16).toFixed(2)
    }x (load ${load()})`,
  );
  for (const x of variants) x.v.destroy();
}

/** One layer's attention (decode when `tokens` is 1) over `nSlots` slots, the last rows of the cache. */
function attentionVariant(
  shape: { nHead: number; nHeadKv: number; headDim: number; nSlots: number },
  tokens: number,
  reps: number,
) {
  return (kvType: KvType): Variant => {
    const { nHead, nHeadKv, headDim, nSlots } = shape;
    const rows = tokens * nHead * headDim;
    const q = createStorageFrom(rt.device, random(rows, 1), "q");
    const out = createStorage(rt.device, rows * 4, "out");
    const lse = createStorage(rt.device, tokens * nHead * 4, "lse");
    const kCache = cacheOf(kvType, nHeadKv * nSlots * headDim, 2, "k");
    const vCache = cacheOf(kvType, nHeadKv * nSlots * headDim, 3, "v");
    const step = createStepBuffer(rt.device);
    const pos = nSlots - tokens;
    writeStep(rt.device, step, { pos, nTokens: tokens, nKv: nSlots, seed: 0 });
    const common = { q, kCache, vCache, kvTypes: kvTypes(kvType), out, shape, step };
    const op = tokens === 1
      ? createAttentionDecode(rt, common)
      : createAttentionPrefill(rt, { ...common, lse, maxTokens: tokens });
    return {
      measure: () => time(rt, [op], reps),
      destroy() {
        op.destroy();
        for (const b of [q, out, lse, kCache, vCache, step]) b.destroy();
      },
    };
  };
}

async function attentionBench() {
  const layer = { nHead: 32, nHeadKv: 8, headDim: 64 };
  for (const nSlots of [512, 2048, 4096]) {
    await compareTypes(
      `attention decode 32/8×64, ${nSlots} slots`,
      attentionVariant({ ...layer, nSlots }, 1, 10),
    );
  }
  await compareTypes(
    "attention prefill 32/8×64, 128 tokens at positions 1920..2047",
    attentionVariant({ ...layer, nSlots: 2048 }, 128, 1),
  );
}

/** One layer's decode write + eviction per token (`both`), or the write alone. */
function decodeVariant(nHeadKv: number, headDim: number, slots: number, withEvict: boolean) {
  return (kvType: KvType): Variant => {
    const budget = splitBudget(slots, options.recentRatio, options.sinks);
    const nSlots = slots + 1;
    const table = createKvSlotTable(rt, { nHeadKv, nSlots });
    const kCache = cacheOf(kvType, nHeadKv * nSlots * headDim, 1, "k");
    const vCache = cacheOf(kvType, nHeadKv * nSlots * headDim, 2, "v");
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
    const caches = { kCache, vCache, kvTypes: kvTypes(kvType), table, headDim, step };
    const write = createKvWriteSlot(rt, { ...caches, k, v: k });
    const evict = createKvEvict(rt, { ...caches, layer: gpuLayerSpec(spec, budget, nSlots) });
    const next = () => writeStep(rt.device, step, { pos: t, nTokens: 1, nKv: ++t, seed: 0 });
    return {
      measure: () => time(rt, withEvict ? [write, evict] : [write], 50, next),
      destroy() {
        for (const b of [kCache, vCache, k, step, evict.picks]) b.destroy();
        table.destroy();
      },
    };
  };
}

/** A prompt's compression into a d2o slot cache of 20% of it. */
function compressVariant(nHead: number, nHeadKv: number, headDim: number, tokens: number) {
  return (kvType: KvType): Variant => {
    const slots = Math.round(tokens * 0.2);
    const budget = splitBudget(slots, options.recentRatio, options.sinks);
    const nSlots = slots + 1;
    const staging = {
      kCache: cacheOf(kvType, nHeadKv * tokens * headDim, 5, "sk"),
      vCache: cacheOf(kvType, nHeadKv * tokens * headDim, 6, "sv"),
      nSlots: tokens,
    };
    const colsum = createStorageFrom(rt.device, random(nHead * tokens, 7, true), "colsum");
    const table = createKvSlotTable(rt, { nHeadKv, nSlots });
    const bytes = kvCacheBytes(kvType, nHeadKv, nSlots, headDim);
    const dest = {
      kCache: createStorage(rt.device, bytes, "dk"),
      vCache: createStorage(rt.device, bytes, "dv"),
      table,
    };
    const layer = gpuLayerSpec(spec, budget, nSlots);
    const op = createKvCompress(rt, {
      layer,
      tokens,
      staging,
      colsum,
      nHead,
      dest,
      kvTypes: kvTypes(kvType),
      headDim,
    });
    return {
      measure: () => time(rt, [op], 2),
      destroy() {
        op.destroy();
        for (const b of [staging.kCache, staging.vCache, colsum, dest.kCache, dest.vCache]) {
          b.destroy();
        }
        table.destroy();
      },
    };
  };
}

async function policyBench() {
  for (const [nHeadKv, headDim, slots] of [[4, 8, 102], [8, 128, 410], [8, 128, 1638]]) {
    const at = `nHeadKv=${nHeadKv} headDim=${headDim} C=${slots}`;
    await compareTypes(`decode write+evict ${at}`, decodeVariant(nHeadKv!, headDim!, slots!, true));
    await compareTypes(`decode write ${at}`, decodeVariant(nHeadKv!, headDim!, slots!, false));
  }
  for (const [nHead, nHeadKv, headDim] of [[8, 4, 8], [32, 8, 128]]) {
    for (const tokens of [512, 2048]) {
      await compareTypes(
        `compress nHead=${nHead} nHeadKv=${nHeadKv} headDim=${headDim} T'=${tokens} (C=${
          Math.round(tokens * 0.2)
        })`,
        compressVariant(nHead!, nHeadKv!, headDim!, tokens),
      );
    }
  }
}

console.log(`adapter: ${rt.ctx.description}; ${ROUNDS} rounds, medians; load ${load()}`);
if (only !== "policy") await attentionBench();
if (only !== "attention") await policyBench();
await readBuffer(rt.device, createStorage(rt.device, 4, "sync"), 4);
