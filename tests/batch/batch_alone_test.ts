/**
 * Batch equals alone: a sequence decoded in a batch gives exactly what it
 * gives in a lone session, for every KV policy — the same greedy (and seeded
 * sampled) tokens, logits within 1e-4 at every step, the same compression
 * fates, and the same positions in every (layer, KV head, slot) with the
 * same τ at the end. Three prompts of different lengths share two slots: the
 * second ends first and the third refills its slot while the first decodes.
 * Every policy also with an f16 cache (keys and values), and d2o with f16
 * keys over f32 values: the same rules hold.
 */

import assert from "node:assert/strict";
import { ensureFixtures } from "../../fixtures/make_fixtures.ts";
import { BatchEngine } from "../../src/batch/batch_engine.ts";
import { createRuntime, type GpuRuntime } from "../../src/gpu/runtime.ts";
import { DEFAULT_KV_TYPES, type KvTypes, kvTypes } from "../../src/gpu/ops/kv_elem.ts";
import type { KvSlotTableSnapshot } from "../../src/gpu/ops/kv_slot_table.ts";
import type { CompressionFate, KvStore } from "../../src/kv/cache.ts";
import { type KvOptionsInput, resolveKvOptions } from "../../src/kv/options.ts";
import { openModel } from "../../src/model/model_file.ts";
import { Session } from "../../src/model/session.ts";
import { type SamplerParams, samplerParams } from "../../src/sample/params.ts";
import { tokenizerFromMetadata } from "../../src/tokenizer/mod.ts";
import { gpuTestOptions, testGpu } from "../_gpu.ts";

const STORIES = new URL("../../../shared/models/stories260K.gguf", import.meta.url).pathname;
const TEXT = await Deno.readTextFile(
  new URL("../../../shared/oracle/ppl-text.txt", import.meta.url),
);
const FIXTURE = (await ensureFixtures()).get("llama-q8_0")!;
const N_CTX = 128;

/** One request: where its prompt starts in the text, its length, its decode steps and sampler. */
interface Request {
  readonly from: number;
  readonly length: number;
  readonly steps: number;
  readonly sampler: SamplerParams;
}

const REQUESTS: readonly Request[] = [
  { from: 0, length: 48, steps: 12, sampler: samplerParams({ temperature: 0, seed: 0 }) },
  { from: 60, length: 29, steps: 4, sampler: samplerParams({ temperature: 0, seed: 0 }) },
  { from: 100, length: 37, steps: 6, sampler: samplerParams({ temperature: 0.8, seed: 7 }) },
];

/** What a sequence did: its tokens, the logits before each, fates and final tables. */
interface Trace {
  tokens: number[];
  logits: Float32Array[];
  fates: readonly CompressionFate[] | undefined;
  tables: KvSlotTableSnapshot[];
}

let runtime: GpuRuntime | undefined;

async function tables(kv: KvStore): Promise<KvSlotTableSnapshot[]> {
  return await Promise.all(kv.tables.map((t) => t.read()));
}

async function alone(
  path: string,
  ids: number[],
  r: Request,
  input?: KvOptionsInput,
  types: KvTypes = DEFAULT_KV_TYPES,
) {
  const kv = input ? resolveKvOptions(input) : undefined;
  const session = await Session.open(path, {
    nCtx: N_CTX,
    runtime: runtime!,
    sampler: r.sampler,
    recordFates: true,
    kvTypes: types,
    ...(kv ? { kv } : {}),
  });
  try {
    const trace: Trace = { tokens: [], logits: [], fates: undefined, tables: [] };
    let token = await session.prefill(ids.slice(r.from, r.from + r.length));
    trace.fates = session.kvStore.fates;
    for (let i = 0;; i++) {
      trace.tokens.push(token);
      trace.logits.push(await session.logits());
      if (i === r.steps) break;
      token = await session.decode(token);
    }
    trace.tables = await tables(session.kvStore);
    return trace;
  } finally {
    session.close();
  }
}

/**
 * Runs the requests through `parallel` slots (two by default): each waiting
 * request takes the first free slot.
 */
async function batched(
  path: string,
  ids: number[],
  input?: KvOptionsInput,
  requests: readonly Request[] = REQUESTS,
  parallel = 2,
  types: KvTypes = DEFAULT_KV_TYPES,
): Promise<Trace[]> {
  const kv = input ? resolveKvOptions(input) : undefined;
  const engine = await BatchEngine.load(await openModel(path), {
    parallel,
    nCtx: N_CTX,
    kv,
    kvTypes: types,
    recordFates: true,
    runtime: runtime!,
  });
  try {
    const traces: Trace[] = [];
    const running = new Map<number, number>(); // slot → request
    let next = 0;
    const admit = async (slot: number) => {
      const r = requests[next]!;
      const trace: Trace = { tokens: [], logits: [], fates: undefined, tables: [] };
      traces[next] = trace;
      running.set(slot, next++);
      trace.tokens.push(await engine.start(slot, ids.slice(r.from, r.from + r.length), r.sampler));
      trace.fates = engine.sequences[slot]!.kv.fates;
      trace.logits.push(await engine.logits(slot));
    };
    for (let slot = 0; slot < parallel; slot++) await admit(slot);
    while (running.size > 0) {
      const active = [...running.keys()];
      const out = await engine.step(active);
      for (const [i, slot] of active.entries()) {
        const trace = traces[running.get(slot)!]!;
        trace.tokens.push(out[i]!);
        trace.logits.push(await engine.logits(slot));
        if (trace.tokens.length === requests[running.get(slot)!]!.steps + 1) {
          trace.tables = await tables(engine.sequences[slot]!.kv);
          engine.finish(slot);
          running.delete(slot);
          if (next < requests.length) await admit(slot);
        }
      }
    }
    return traces;
  } finally {
    engine.close();
  }
}

/**
 * A batch against alone: logits within 1e-4 and τ within 1e-6 with an f32
 * cache. An f16 cache rounds K and V to halves: where the batch's projections
 * (the batched mat-vec) and the lone session's (the mat-vec) differ in the
 * last f32 bits of a value near the midpoint of two halves, the two store
 * neighbouring halves (2⁻¹¹ relative), which moves a logit by up to 6.5e-3
 * (snapkv, a sampled request) and τ by up to 1.2e-5 (d2o) on stories260K;
 * tokens, fates and tables stay the same.
 */
const TOLERANCE = { f32: { logits: 1e-4, tau: 1e-6 }, f16: { logits: 1e-2, tau: 1e-4 } };

function compare(name: string, got: Trace, want: Trace, tolerance = TOLERANCE.f32) {
  assert.deepEqual(got.tokens, want.tokens, `${name}: tokens`);
  got.logits.forEach((row, t) => {
    let worst = 0;
    for (let i = 0; i < row.length; i++) {
      worst = Math.max(worst, Math.abs(row[i]! - want.logits[t]![i]!));
    }
    assert.ok(worst <= tolerance.logits, `${name}: step ${t} logits differ by ${worst}`);
  });
  assert.deepEqual(got.fates, want.fates, `${name}: compression fates`);
  assert.equal(got.tables.length, want.tables.length, `${name}: layers with slot tables`);
  got.tables.forEach((table, l) => {
    const ref = want.tables[l]!;
    assert.deepEqual(table.pos, ref.pos, `${name}: layer ${l} positions`);
    assert.deepEqual(table.free, ref.free, `${name}: layer ${l} free slots`);
    assert.equal(table.count, ref.count, `${name}: layer ${l} count`);
    if (Number.isNaN(ref.tau)) assert.ok(Number.isNaN(table.tau), `${name}: layer ${l} τ unset`);
    else {assert.ok(
        Math.abs(table.tau - ref.tau) <= tolerance.tau,
        `${name}: layer ${l} τ ${table.tau} vs ${ref.tau}`,
      );}
  });
}

const POLICIES: [string, KvOptionsInput | undefined][] = [
  ["the plain full cache", undefined],
  ["full", { kv: "full" }],
  ["streaming", { kv: "streaming", kvBudget: 0.25, kvMin: 4 }],
  ["h2o", { kv: "h2o", kvBudget: 0.25, kvMin: 4 }],
  ["d2o", { kv: "d2o", kvBudget: 0.25, kvMin: 4 }],
  ["snapkv", { kv: "snapkv", kvBudget: 0.25, kvMin: 4, params: { snapWindow: 8 } }],
  ["pyramidkv", { kv: "pyramidkv", kvBudget: 0.25, kvMin: 4, params: { snapWindow: 8 } }],
  ["knorm", { kv: "knorm", kvBudget: 0.25, kvMin: 4 }],
];

/**
 * Every KV option that changes what a policy decides, each beside its policy's
 * defaults: a batch loads through the same loader as a lone session, so each
 * must give the same tokens, fates and tables (the batch engine once ignored
 * `--select-per query-head` and printed the kv-head text).
 */
const OPTIONS: [string, KvOptionsInput][] = ([
  ["d2o --select-per query-head", { kv: "d2o", selectPer: "query-head" }],
  ["h2o --select-per query-head", { kv: "h2o", selectPer: "query-head" }],
  ["d2o --parity --compress-at prefill", { kv: "d2o", parity: true, compressAt: "prefill" }],
  ["d2o --merge-rule code", { kv: "d2o", params: { mergeRule: "code" } }],
  ["d2o --merge-parts values", { kv: "d2o", params: { mergeParts: "values" } }],
  ["d2o --merge-decision head-mean", { kv: "d2o", params: { mergeDecision: "head-mean" } }],
  ["d2o --d2o-stat raw", { kv: "d2o", params: { d2oStat: "raw" } }],
  ["d2o --d2o-beta 0.3 --merge-self-logit 2", {
    kv: "d2o",
    params: { d2oBeta: 0.3, mergeSelfLogit: 2 },
  }],
  ["d2o --kv-alloc code", { kv: "d2o", kvAlloc: "code" }],
  ["h2o --sinks 2 --recent-ratio 0.25", { kv: "h2o", sinks: 2, recentRatio: 0.25 }],
  ["h2o --skip-layers 0", { kv: "h2o", skipLayers: "0" }],
  ["snapkv --kv-decode evict --snap-pool 3", {
    kv: "snapkv",
    params: { snapWindow: 8, kvDecode: "evict", snapPool: 3 },
  }],
] as const).map(([name, input]) => [name, { kvBudget: 0.25, kvMin: 4, ...input }]);

/** The policies on both models; every option row on stories260K, `--select-per query-head` on both. */
const MATRIX: [string, string, [string, KvOptionsInput | undefined][]][] = [
  ["stories260K", STORIES, [...POLICIES, ...OPTIONS]],
  ["a Q8_0 fixture", FIXTURE, [...POLICIES, OPTIONS[0]!]],
];

for (const [model, path, rows] of MATRIX) {
  Deno.test({
    name:
      `a sequence in a batch gives what it gives alone, every policy and KV option, on ${model}`,
    ...gpuTestOptions,
    async fn(t) {
      runtime ??= createRuntime(await testGpu());
      const file = await openModel(path);
      const ids = tokenizerFromMetadata(file.gguf.metadata).encode(TEXT);
      file.close();
      for (const [name, input] of rows) {
        await t.step(name, async () => {
          const got = await batched(path, ids, input);
          for (const [i, r] of REQUESTS.entries()) {
            compare(`${name}, request ${i}`, got[i]!, await alone(path, ids, r, input));
            // A compressing policy dropped or merged part of what the sequence saw.
            const held = Math.min(...got[i]!.tables.map((t) => t.count));
            if (input && input.kv !== "full") {
              assert.ok(held < r.length + r.steps, `${name}: compressed`);
            }
          }
        });
      }
    },
  });
}

Deno.test({
  name: "a sequence in a batch gives what it gives alone with an f16 cache, every policy, on " +
    "stories260K",
  ...gpuTestOptions,
  async fn(t) {
    runtime ??= createRuntime(await testGpu());
    const file = await openModel(STORIES);
    const ids = tokenizerFromMetadata(file.gguf.metadata).encode(TEXT);
    file.close();
    const rows: [string, KvOptionsInput | undefined, KvTypes][] = [
      ...POLICIES.map((
        [name, input],
      ): [string, KvOptionsInput | undefined, KvTypes] => [name, input, kvTypes("f16")]),
      ["d2o, f16 keys over f32 values", POLICIES[4]![1], kvTypes("f16", "f32")],
    ];
    for (const [name, input, types] of rows) {
      await t.step(name, async () => {
        const got = await batched(STORIES, ids, input, REQUESTS, 2, types);
        for (const [i, r] of REQUESTS.entries()) {
          const want = await alone(STORIES, ids, r, input, types);
          compare(`${name}, request ${i}`, got[i]!, want, TOLERANCE.f16);
        }
      });
    }
  },
});

// Ten sequences in one step: the batched mat-vec serves 8 rows per dispatch,
// so the projections run in two groups (the second partly, then not at all as
// sequences end at different steps).
const TEN: readonly Request[] = Array.from({ length: 10 }, (_, i) => ({
  from: 9 * i,
  length: 18 + 3 * i,
  steps: 2 + (i % 4),
  sampler: samplerParams({ temperature: i % 3 === 0 ? 0.8 : 0, seed: i }),
}));

Deno.test({
  name: "ten sequences in a batch give what they give alone, on a Q8_0 fixture",
  ...gpuTestOptions,
  async fn(t) {
    runtime ??= createRuntime(await testGpu());
    const file = await openModel(FIXTURE);
    const ids = tokenizerFromMetadata(file.gguf.metadata).encode(TEXT);
    file.close();
    for (const [name, input] of [POLICIES[0]!, POLICIES[4]!]) {
      await t.step(name, async () => {
        const got = await batched(FIXTURE, ids, input, TEN, TEN.length);
        for (const [i, r] of TEN.entries()) {
          compare(`${name}, request ${i}`, got[i]!, await alone(FIXTURE, ids, r, input));
        }
      });
    }
  },
});
