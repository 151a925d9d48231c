import assert from "node:assert/strict";
import { compressPlan, createKvCompress } from "../../src/gpu/ops/kv_compress.ts";
import { type KvTypes, roundKv } from "../../src/gpu/ops/kv_elem.ts";
import { type KvOptionsInput, resolveKvOptions } from "../../src/kv/options.ts";
import { gpuLayerSpec } from "../../src/kv/layer_spec.ts";
import type { CompressDecision } from "../../src/reference/kv/layer_view.ts";
import { createKvPolicy } from "../../src/kv/registry.ts";
import { causalColumnSums, groupColumnSums } from "../../src/reference/kv/column_sums.ts";
import { ReferenceKvLayer } from "../../src/reference/kv/kv_layer.ts";
import { gpuTestOptions } from "../_gpu.ts";
import { syntheticSequence } from "../kv/_synthetic.ts";
import { storageOf, submitPass, testRuntime } from "./_cases.ts";
import {
  assertSameLayer,
  budgetOf,
  coarse,
  GpuLayer,
  KV_TYPE_PAIRS,
  kvStorageOf,
  kvTypesName,
  replayDecode,
  snapshotTwin,
  tiedKeys,
} from "./_kv_harness.ts";

interface Case {
  name: string;
  kv: KvOptionsInput;
  /** `C`, or the capacity of an uncompressed layer. */
  slots: number;
  compressed: boolean;
  nHead: number;
  nHeadKv: number;
  headDim: number;
  /** Prompt length `T'`. */
  prompt: number;
  steps: number;
  ties?: boolean;
}

/** The fate the GPU reports, derived from the twin's decision and its loaded table. */
function expectedFate(
  twin: ReferenceKvLayer,
  decision: CompressDecision | null,
  tokens: number,
): Int32Array {
  const fate = new Int32Array(twin.nHeadKv * tokens);
  for (let h = 0; h < twin.nHeadKv; h++) {
    for (let j = 0; j < tokens; j++) {
      const i = h * tokens + j;
      if (decision === null || decision.keep[i] === 1) fate[i] = twin.table.find(h, j);
      else if (decision.mergeTarget[i]! >= 0) {
        fate[i] = -2 - twin.table.find(h, decision.mergeTarget[i]!);
      } else fate[i] = -1;
    }
  }
  return fate;
}

// Tolerance (assertSameLayer): the outcome per position (kept, dropped, merged into which slot),
// τ and the table exact; K/V within 1e-5 (f32) or 1e-5 + one f16 ulp (f16: a paper-rule
// merge's exp() may move the f32 sum across a rounding boundary); copied rows exact in both.

/**
 * Compresses a prompt on the GPU and the twin (keys and values of `types`: the staging cache holds
 * the prompt rounded, as the twin's prefill rounds it), compares, then decodes `steps` more tokens.
 */
async function runCase(c: Case, types: KvTypes, seed: number) {
  const rt = await testRuntime();
  const { nHead, nHeadKv, headDim, prompt: tokens } = c;
  const shape = { nLayer: 1, nHead, nHeadKv, headDim };
  const policy = createKvPolicy(resolveKvOptions(c.kv));
  const twin = new ReferenceKvLayer(policy, budgetOf(c), { ...shape, kvTypes: types });
  const raw = syntheticSequence(seed, shape, tokens + c.steps)[0]!;
  const data = c.ties ? tiedKeys(raw, nHeadKv, headDim) : raw;
  // Staging cache [nHeadKv][stagingSlots][headDim] (slot = position) and the twin's compact copy.
  const stagingSlots = tokens + 5;
  const stagingK = new Float32Array(nHeadKv * stagingSlots * headDim);
  const stagingV = new Float32Array(nHeadKv * stagingSlots * headDim);
  const keys = new Float32Array(nHeadKv * tokens * headDim);
  const values = new Float32Array(nHeadKv * tokens * headDim);
  const q = new Float32Array(tokens * nHead * headDim);
  for (let t = 0; t < tokens; t++) {
    q.set(data.q[t]!, t * nHead * headDim);
    for (let h = 0; h < nHeadKv; h++) {
      const k = data.k[t]!.subarray(h * headDim, (h + 1) * headDim);
      const v = data.v[t]!.subarray(h * headDim, (h + 1) * headDim);
      stagingK.set(k, (h * stagingSlots + t) * headDim);
      stagingV.set(v, (h * stagingSlots + t) * headDim);
      keys.set(k, (h * tokens + t) * headDim);
      values.set(v, (h * tokens + t) * headDim);
    }
  }
  // The column sums come from the staging cache's keys, as the GPU computes them.
  const exact = causalColumnSums(q, roundKv(types.k, keys), tokens, shape);
  const colsum = c.ties ? exact.map(coarse) : exact;
  const colsumRows = new Float32Array(nHead * stagingSlots);
  for (let h = 0; h < nHead; h++) {
    colsumRows.set(colsum.subarray(h * tokens, (h + 1) * tokens), h * stagingSlots);
  }
  // The twin scores the prompt from these by the policy's score source (and pools them).
  const decision = twin.prefill(keys, values, groupColumnSums(colsum, tokens, shape), tokens);
  const gpu = new GpuLayer(rt, twin);
  // Dirty the destination: the compression must write every table cell and the state.
  gpu.load({
    ...snapshotTwin(twin),
    pos: new Int32Array(nHeadKv * twin.nSlots).fill(7),
    score: new Float32Array(nHeadKv * twin.nSlots).fill(3),
    tau: 0.25,
    count: 99,
    free: new Uint32Array(nHeadKv).fill(99),
  });
  const staging = {
    kCache: kvStorageOf(rt.device, types.k, stagingK, "test.staging_k"),
    vCache: kvStorageOf(rt.device, types.v, stagingV, "test.staging_v"),
    nSlots: stagingSlots,
  };
  const colsumBuf = storageOf(rt.device, colsumRows, "test.colsum");
  const op = createKvCompress(rt, {
    layer: gpuLayerSpec(twin.policy.spec, twin.budget, twin.nSlots),
    tokens,
    staging,
    colsum: colsumBuf,
    nHead,
    dest: { kCache: gpu.kCache, vCache: gpu.vCache, table: gpu.table },
    kvTypes: types,
    headDim,
  });
  assert.deepEqual(
    { kept: op.kept, evicted: op.evicted },
    { kept: twin.table.occupancy(0), evicted: tokens - twin.table.occupancy(0) },
  );
  submitPass(rt.device, [op]);
  assertSameLayer(await gpu.read(), snapshotTwin(twin), "after compression", types);
  assert.deepEqual(await op.readFate(), expectedFate(twin, decision, tokens));
  const merged = decision?.mergeTarget.filter((t) => t >= 0).length ?? 0;
  // Paper-rule merges agree only within tolerance (exp), so the decode then
  // starts from the twin's state; every other policy continues from the GPU's.
  const paperMerges = twin.policy.spec.merge?.rule === "paper" && merged > 0;
  const decoded = await replayDecode(gpu, twin, data, tokens, c.steps, {
    nHead,
    fromGpu: !paperMerges,
    ...(c.ties ? { transform: coarse } : {}),
  });
  op.destroy();
  for (const b of [staging.kCache, staging.vCache, colsumBuf]) b.destroy();
  gpu.destroy();
  return { evicted: op.evicted, merged, ...decoded };
}

const cases: Case[] = [
  {
    name: "full",
    kv: { kv: "full" },
    slots: 110,
    compressed: false,
    nHead: 2,
    nHeadKv: 1,
    headDim: 8,
    prompt: 40,
    steps: 64,
  },
  {
    name: "streaming",
    kv: { kv: "streaming" },
    slots: 16,
    compressed: true,
    nHead: 4,
    nHeadKv: 2,
    headDim: 8,
    prompt: 64,
    steps: 64,
  },
  {
    name: "h2o",
    kv: { kv: "h2o" },
    slots: 20,
    compressed: true,
    nHead: 4,
    nHeadKv: 4,
    headDim: 8,
    prompt: 100,
    steps: 64,
  },
  {
    name: "d2o",
    kv: { kv: "d2o" },
    slots: 24,
    compressed: true,
    nHead: 8,
    nHeadKv: 4,
    headDim: 64,
    prompt: 96,
    steps: 64,
  },
  {
    name: "d2o values-only merge",
    kv: { kv: "d2o", recentRatio: 0.5, params: { mergeParts: "values" } },
    slots: 12,
    compressed: true,
    nHead: 4,
    nHeadKv: 2,
    headDim: 8,
    prompt: 50,
    steps: 64,
  },
  {
    name: "d2o parity",
    kv: { kv: "d2o", parity: true },
    slots: 12,
    compressed: true,
    nHead: 4,
    nHeadKv: 2,
    headDim: 8,
    prompt: 50,
    steps: 64,
  },
  {
    name: "d2o merge rule code",
    kv: { kv: "d2o", params: { mergeRule: "code" } },
    slots: 32,
    compressed: true,
    nHead: 2,
    nHeadKv: 2,
    headDim: 64,
    prompt: 80,
    steps: 64,
  },
  {
    name: "d2o prompt within budget",
    kv: { kv: "d2o" },
    slots: 40,
    compressed: true,
    nHead: 2,
    nHeadKv: 2,
    headDim: 8,
    prompt: 30,
    steps: 64,
  },
  {
    name: "d2o ties",
    kv: { kv: "d2o", sinks: 2 },
    slots: 10,
    compressed: true,
    nHead: 4,
    nHeadKv: 2,
    headDim: 8,
    prompt: 40,
    steps: 64,
    ties: true,
  },
  {
    name: "d2o hard budget",
    kv: { kv: "d2o", sinks: 1, recentRatio: 0.5 },
    slots: 3,
    compressed: true,
    nHead: 3,
    nHeadKv: 1,
    headDim: 12,
    prompt: 60,
    steps: 64,
  },
  {
    name: "snapkv max pool, evicting while decoding",
    kv: { kv: "snapkv", params: { snapWindow: 8, kvDecode: "evict" } },
    slots: 20,
    compressed: true,
    nHead: 4,
    nHeadKv: 2,
    headDim: 8,
    prompt: 60,
    steps: 64,
  },
  {
    name: "snapkv max pool 3 with 2 sinks",
    kv: { kv: "snapkv", sinks: 2, params: { snapWindow: 6, snapPool: 3, kvDecode: "evict" } },
    slots: 16,
    compressed: true,
    nHead: 2,
    nHeadKv: 1,
    headDim: 16,
    prompt: 70,
    steps: 64,
  },
  {
    name: "knorm",
    kv: { kv: "knorm" },
    slots: 24,
    compressed: true,
    nHead: 8,
    nHeadKv: 4,
    headDim: 64,
    prompt: 96,
    steps: 64,
  },
  {
    name: "knorm with 1 sink, window 3",
    kv: { kv: "knorm", sinks: 1, recentRatio: 0.3 },
    slots: 12,
    compressed: true,
    nHead: 3,
    nHeadKv: 1,
    headDim: 12,
    prompt: 50,
    steps: 64,
  },
  {
    // T' = 4096: the O(T'²) ranking and the nearest-key search must stay under
    // lavapipe's 65,535 loop iterations per invocation.
    name: "d2o long prompt",
    kv: { kv: "d2o" },
    slots: 819,
    compressed: true,
    nHead: 4,
    nHeadKv: 4,
    headDim: 8,
    prompt: 4096,
    steps: 64,
  },
];

for (const types of KV_TYPE_PAIRS) {
  cases.forEach((c, i) => {
    Deno.test({
      name:
        `kv_compress(${
          kvTypesName(types)
        }, ${c.name}, C=${c.slots}, T'=${c.prompt}, nHead=${c.nHead}, ` +
        `nHeadKv=${c.nHeadKv}, headDim=${c.headDim}) matches the twin, then ${c.steps} decode steps`,
      ...gpuTestOptions,
      async fn() {
        const r = await runCase(c, types, 200 + i);
        const compresses = c.compressed && c.prompt > c.slots;
        assert.equal(r.evicted > 0, compresses);
        if (c.kv.kv === "d2o" && compresses) assert.ok(r.merged > 0, "the compression merges");
        if (c.compressed) assert.ok(r.evictions > 0, "the decode steps evict");
      },
    });
  });
}

Deno.test("compressPlan() keeps sinks, window and the best of the rest", () => {
  const budget = { slots: 10, heavy: 8, recent: 2, sinks: 4, compressed: true };
  assert.deepEqual(compressPlan(budget, 30), { kept: 10, evicted: 20, quota: 4 });
  assert.deepEqual(compressPlan(budget, 10), { kept: 10, evicted: 0, quota: 4 });
  assert.deepEqual(compressPlan({ ...budget, compressed: false }, 30), {
    kept: 30,
    evicted: 0,
    quota: 24,
  });
});
