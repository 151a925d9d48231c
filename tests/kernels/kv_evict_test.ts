import assert from "node:assert/strict";
import { KV_TYPES, type KvTypes, kvTypes } from "../../src/gpu/ops/kv_elem.ts";
import { createKvEvict } from "../../src/gpu/ops/kv_evict.ts";
import { createKvSlotTable } from "../../src/gpu/ops/kv_slot_table.ts";
import { type KvOptionsInput, resolveKvOptions } from "../../src/kv/options.ts";
import { gpuLayerSpec } from "../../src/kv/layer_spec.ts";
import type { LayerBudget } from "../../src/kv/policy.ts";
import { createKvPolicy } from "../../src/kv/registry.ts";
import { ReferenceKvLayer } from "../../src/reference/kv/kv_layer.ts";
import { gpuTestOptions } from "../_gpu.ts";
import { prefillInputs, syntheticSequence } from "../kv/_synthetic.ts";
import { submitPass, testRuntime } from "./_cases.ts";
import {
  budgetOf,
  coarse,
  GpuLayer,
  KV_TYPE_PAIRS,
  kvStorageOf,
  kvTypesName,
  readAll,
  readKv,
  replayDecode,
  tiedKeys,
} from "./_kv_harness.ts";
import { stepBuffer } from "./_step.ts";

interface Case {
  /** Policy options. */
  kv: KvOptionsInput;
  /** Tokens kept (`C`), or the capacity of an uncompressed layer. */
  slots: number;
  compressed: boolean;
  nHead: number;
  nHeadKv: number;
  headDim: number;
  /** Prompt tokens the twin prefills (and compresses) before decoding. */
  prompt: number;
  steps: number;
  /** Snap keys to 3 exact vectors per head and scores to coarse steps, so ranks and similarities tie. */
  ties?: boolean;
}

// Tolerance (assertSameLayer): victims, targets, similarities, τ's bits, positions and scores
// exact; K/V within 1e-5 (f32) or 1e-5 + one f16 ulp (f16: a paper-rule merge's exp() may
// move the f32 sum across a rounding boundary); copied rows are exact in both.

/**
 * Prefills the twin, then replays `steps` decode steps on the twin and the GPU with identical
 * inputs (the twin's keys and values of `types` round as the GPU stores them).
 */
async function runCase(c: Case, types: KvTypes, seed: number) {
  const rt = await testRuntime();
  const { nHead, nHeadKv, headDim } = c;
  const shape = { nLayer: 1, nHead, nHeadKv, headDim };
  const policy = createKvPolicy(resolveKvOptions(c.kv));
  const twin = new ReferenceKvLayer(policy, budgetOf(c), { ...shape, kvTypes: types });
  const raw = syntheticSequence(seed, shape, c.prompt + c.steps)[0]!;
  const data = c.ties ? tiedKeys(raw, nHeadKv, headDim) : raw;
  const pre = prefillInputs(data, shape, c.prompt);
  const scores = c.ties ? pre.scores.map(coarse) : pre.scores;
  twin.prefill(pre.keys, pre.values, scores, c.prompt);
  const gpu = new GpuLayer(rt, twin);
  const counts = await replayDecode(gpu, twin, data, c.prompt, c.steps, {
    nHead,
    ...(c.ties ? { transform: coarse } : {}),
  });
  gpu.destroy();
  return counts;
}

const cases: Array<Case & { name: string; merges: boolean }> = [
  {
    name: "full",
    kv: { kv: "full" },
    slots: 90,
    compressed: false,
    nHead: 2,
    nHeadKv: 1,
    headDim: 8,
    prompt: 20,
    steps: 66,
    merges: false,
  },
  {
    name: "streaming",
    kv: { kv: "streaming", sinks: 4 },
    slots: 16,
    compressed: true,
    nHead: 4,
    nHeadKv: 2,
    headDim: 8,
    prompt: 40,
    steps: 66,
    merges: false,
  },
  {
    name: "h2o",
    kv: { kv: "h2o" },
    slots: 12,
    compressed: true,
    nHead: 4,
    nHeadKv: 4,
    headDim: 8,
    prompt: 8,
    steps: 70,
    merges: false,
  },
  {
    name: "d2o",
    kv: { kv: "d2o" },
    slots: 24,
    compressed: true,
    nHead: 8,
    nHeadKv: 4,
    headDim: 64,
    prompt: 64,
    steps: 66,
    merges: true,
  },
  {
    name: "d2o values-only merge",
    kv: { kv: "d2o", params: { mergeParts: "values" } },
    slots: 10,
    compressed: true,
    nHead: 4,
    nHeadKv: 2,
    headDim: 8,
    prompt: 30,
    steps: 66,
    merges: true,
  },
  {
    name: "d2o parity",
    kv: { kv: "d2o", parity: true },
    slots: 10,
    compressed: true,
    nHead: 4,
    nHeadKv: 2,
    headDim: 8,
    prompt: 30,
    steps: 66,
    merges: true,
  },
  {
    name: "d2o merge rule code",
    kv: { kv: "d2o", params: { mergeRule: "code", d2oBeta: 0.5 } },
    slots: 32,
    compressed: true,
    nHead: 2,
    nHeadKv: 2,
    headDim: 64,
    prompt: 20,
    steps: 80,
    merges: true,
  },
  {
    name: "d2o hard budget",
    kv: { kv: "d2o", sinks: 1, recentRatio: 0.5 },
    slots: 3,
    compressed: true,
    nHead: 3,
    nHeadKv: 1,
    headDim: 12,
    prompt: 9,
    steps: 64,
    merges: true,
  },
  {
    name: "h2o ties",
    kv: { kv: "h2o", sinks: 2 },
    slots: 8,
    compressed: true,
    nHead: 2,
    nHeadKv: 2,
    headDim: 8,
    prompt: 12,
    steps: 64,
    ties: true,
    merges: false,
  },
  {
    name: "d2o ties",
    kv: { kv: "d2o", sinks: 2 },
    slots: 8,
    compressed: true,
    nHead: 4,
    nHeadKv: 2,
    headDim: 8,
    prompt: 12,
    steps: 64,
    ties: true,
    merges: true,
  },
  {
    name: "d2o wide",
    kv: { kv: "d2o" },
    slots: 300,
    compressed: true,
    nHead: 8,
    nHeadKv: 4,
    headDim: 128,
    prompt: 340,
    steps: 64,
    merges: true,
  },
];

for (const types of KV_TYPE_PAIRS) {
  cases.forEach((c, i) => {
    Deno.test({
      name:
        `kv_evict(${
          kvTypesName(types)
        }, ${c.name}, C=${c.slots}, nHead=${c.nHead}, nHeadKv=${c.nHeadKv}, ` +
        `headDim=${c.headDim}, prompt=${c.prompt}, steps=${c.steps}) matches the twin every step`,
      ...gpuTestOptions,
      async fn() {
        const { evictions, merges } = await runCase(c, types, 11 + i);
        if (c.compressed) assert.ok(evictions > 0, "the case evicts");
        else assert.equal(evictions, 0);
        if (c.merges) assert.ok(merges > 0, "the case merges");
        else assert.equal(merges, 0);
      },
    });
  });
}

for (const kvType of KV_TYPES) {
  Deno.test({
    name: `dbg_kv_evict(${kvType}, d2o code rule, C=2, 1 head, headDim=4): the victim merges ` +
      "half-and-half into its twin key, rounded once where it is stored",
    ...gpuTestOptions,
    async fn() {
      const rt = await testRuntime();
      // Slot s holds position s: keys (1,0,0,0), (0,1,0,0), (2,0,0,0); scores 0.25, 0.5, 0.125.
      // Window 1, no sinks: position 2 is protected, the candidates are positions 0 and 1.
      const options = resolveKvOptions({
        kv: "d2o",
        sinks: 0,
        recentRatio: 0.5,
        params: { mergeRule: "code" },
      });
      const budget: LayerBudget = { slots: 2, heavy: 1, recent: 1, sinks: 0, compressed: true };
      const table = createKvSlotTable(rt, { nHeadKv: 1, nSlots: 3 });
      const keys = new Float32Array([1, 0, 0, 0, 0, 1, 0, 0, 2, 0, 0, 0]);
      const values = new Float32Array([4, 6, 0.1, 0, 9, 9, 9, 9, 2, 0, 0.3, 0]);
      const k = kvStorageOf(rt.device, kvType, keys, "k");
      const v = kvStorageOf(rt.device, kvType, values, "v");
      rt.device.queue.writeBuffer(table.pos, 0, new Int32Array([0, 1, 2]));
      rt.device.queue.writeBuffer(table.score, 0, new Float32Array([0.25, 0.5, 0.125]));
      rt.device.queue.writeBuffer(table.state, 0, new Uint32Array([0x7fc00000, 2, 0, 0, 2]));
      const step = stepBuffer(rt.device, { pos: 2, nTokens: 1, nKv: 3, seed: 0 });
      const evict = createKvEvict(rt, {
        layer: gpuLayerSpec(createKvPolicy(options).spec, budget, 3),
        kCache: k,
        vCache: v,
        kvTypes: kvTypes(kvType),
        table,
        headDim: 4,
        step,
      });
      submitPass(rt.device, [evict]);
      const snap = await table.read();
      const [picks] = await readAll(rt.device, [[evict.picks, 16]]);
      // Victim: slot 0 (score 0.25 < 0.5); nearest: slot 2 (cosine 1); τ unset → τ = 1; 1 ≥ 1
      // merges with the code weights (1/2, 1·1/2): k = (1,0,0,0)/2 + (2,0,0,0)/2,
      // v = (4,6,a,0)/2 + (2,0,b,0)/2 with a, b the stored 0.1 and 0.3. In f16 a = 0.0999755859375,
      // b = 0.300048828125, so (a + b)/2 = 0.20001220703125 exactly: a tie between the halves
      // 0.199951171875 and 0.2000732421875, stored as the even one.
      const f = Math.fround;
      const mid = kvType === "f16" ? 0.199951171875 : f(f(0.5 * f(0.1)) + f(0.5 * f(0.3)));
      assert.deepEqual([...new Int32Array(picks!, 0, 2)], [0, 2]);
      assert.equal(snap.tau, 1);
      assert.deepEqual([...snap.pos], [-1, 1, 2]);
      assert.deepEqual([...snap.score], [0, 0.5, 0.125]);
      assert.deepEqual([...snap.free], [0]);
      assert.equal(snap.count, 2);
      assert.deepEqual([...await readKv(rt.device, kvType, k, 12)], [
        ...[1, 0, 0, 0],
        ...[0, 1, 0, 0],
        ...[1.5, 0, 0, 0],
      ]);
      const storedV = await readKv(rt.device, kvType, v, 12);
      assert.deepEqual([...storedV.subarray(8)], [3, 3, mid, 0]);
      for (const b of [k, v, step, evict.picks]) b.destroy();
      table.destroy();
    },
  });
}
