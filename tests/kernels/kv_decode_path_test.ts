import assert from "node:assert/strict";
import { createStorage } from "../../src/gpu/buffers.ts";
import { createAttentionDecode } from "../../src/gpu/ops/attention.ts";
import type { KvTypes } from "../../src/gpu/ops/kv_elem.ts";
import { writeStep } from "../../src/gpu/step.ts";
import { splitBudget } from "../../src/kv/budget.ts";
import { type KvOptionsInput, resolveKvOptions } from "../../src/kv/options.ts";
import type { LayerBudget } from "../../src/kv/policy.ts";
import type { StepDecision } from "../../src/reference/kv/layer_view.ts";
import { createKvPolicy } from "../../src/kv/registry.ts";
import { ReferenceKvLayer } from "../../src/reference/kv/kv_layer.ts";
import { decodeAddsAttention } from "../../src/reference/kv/scores.ts";
import { gpuTestOptions } from "../_gpu.ts";
import { prefillInputs, syntheticSequence } from "../kv/_synthetic.ts";
import { testRuntime } from "./_cases.ts";
import {
  assertSameLayer,
  assertSamePicks,
  GpuLayer,
  KV_TYPE_PAIRS,
  kvTypesName,
  readAll,
  snapshotTwin,
} from "./_kv_harness.ts";

interface Case {
  name: string;
  kv: KvOptionsInput;
  budget: LayerBudget;
  nHead: number;
  nHeadKv: number;
  headDim: number;
  prompt: number;
  steps: number;
}

/**
 * The decode path as the forward pass records it, one submit per token:
 * kv_write_slot (with the score source's first score) → attention_decode (adding
 * into the table's scores when the source adds decode attention) →
 * kv_evict. The GPU runs on its own; afterwards the twin replays every step
 * with the GPU's accumulated scores and must reach the same state. Merges use
 * the code rule, whose arithmetic is bit-exact, so the two never drift; an f16
 * cache rounds at the same places in both (tolerance: assertSameLayer's).
 */
async function runPath(c: Case, types: KvTypes, seed: number) {
  const rt = await testRuntime();
  const { nHead, nHeadKv, headDim } = c;
  const shape = { nLayer: 1, nHead, nHeadKv, headDim };
  const policy = createKvPolicy(resolveKvOptions(c.kv));
  const twin = new ReferenceKvLayer(policy, c.budget, { ...shape, kvTypes: types });
  const data = syntheticSequence(seed, shape, c.prompt + c.steps)[0]!;
  const pre = prefillInputs(data, shape, c.prompt);
  twin.prefill(pre.keys, pre.values, pre.scores, c.prompt);
  const gpu = new GpuLayer(rt, twin);
  gpu.load(snapshotTwin(twin));
  const nSlots = twin.nSlots;
  const q = createStorage(rt.device, nHead * headDim * 4, "test.q");
  const out = createStorage(rt.device, nHead * headDim * 4, "test.out");
  const attention = createAttentionDecode(rt, {
    q,
    kCache: gpu.kCache,
    vCache: gpu.vCache,
    kvTypes: types,
    out,
    shape: { nHead, nHeadKv, headDim, nSlots },
    step: gpu.step,
    // As the cache binds it: the attention adds into the scores when the score source says so.
    ...(decodeAddsAttention(policy.spec) ? { scores: gpu.table.score } : {}),
  });
  const scoreBytes = nHeadKv * nSlots * 4;
  const perStep = scoreBytes + gpu.stateBytes;
  const history = gpu.createHistory(Math.ceil((c.steps * perStep) / gpu.stateBytes));
  for (let s = 0; s < c.steps; s++) {
    const t = c.prompt + s;
    rt.device.queue.writeBuffer(q, 0, data.q[t]!.slice());
    rt.device.queue.writeBuffer(gpu.kRow, 0, data.k[t]!.slice());
    rt.device.queue.writeBuffer(gpu.vRow, 0, data.v[t]!.slice());
    writeStep(rt.device, gpu.step, { pos: t, nTokens: 1, nKv: t + 1, seed: 0 });
    const encoder = rt.device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    gpu.write.encode(pass);
    attention.encode(pass);
    pass.end();
    encoder.copyBufferToBuffer(gpu.table.score, 0, history, s * perStep, scoreBytes);
    const evictPass = encoder.beginComputePass();
    gpu.evict.encode(evictPass);
    evictPass.end();
    rt.device.queue.submit([encoder.finish()]);
    gpu.record(history, s * perStep + scoreBytes);
  }
  const [bytes] = await readAll(rt.device, [[history, c.steps * perStep]]);
  let evictions = 0;
  for (let s = 0; s < c.steps; s++) {
    const t = c.prompt + s;
    const at = `step ${t}`;
    twin.append(data.k[t]!, data.v[t]!);
    const attended = new Float32Array(bytes!, s * perStep, nHeadKv * nSlots);
    const row = new Float32Array(nHeadKv * nSlots);
    for (let i = 0; i < row.length; i++) {
      if (twin.table.pos[i] !== -1) row[i] = attended[i]! - twin.table.score[i]!;
    }
    twin.accumulate(row);
    assert.deepEqual(twin.table.score, attended.map((x, i) => twin.table.pos[i] === -1 ? 0 : x));
    const decision: StepDecision = twin.evict();
    const got = gpu.parse(bytes!, s * perStep + scoreBytes);
    assertSamePicks(got, decision, at);
    assertSameLayer(got, snapshotTwin(twin), at, types);
    evictions += decision.evictSlot.filter((v) => v >= 0).length;
  }
  for (const b of [q, out, history]) b.destroy();
  gpu.destroy();
  return evictions;
}

const cases: Case[] = [
  {
    name: "full",
    kv: { kv: "full" },
    budget: { slots: 80, heavy: 0, recent: 80, sinks: 0, compressed: false },
    nHead: 2,
    nHeadKv: 1,
    headDim: 8,
    prompt: 10,
    steps: 64,
  },
  {
    name: "streaming",
    kv: { kv: "streaming" },
    budget: splitBudget(12, 1, 4),
    nHead: 4,
    nHeadKv: 4,
    headDim: 8,
    prompt: 30,
    steps: 64,
  },
  {
    name: "h2o",
    kv: { kv: "h2o" },
    budget: splitBudget(16, 0.5, 0),
    nHead: 4,
    nHeadKv: 2,
    headDim: 8,
    prompt: 10,
    steps: 64,
  },
  {
    name: "d2o code rule",
    kv: { kv: "d2o", params: { mergeRule: "code" } },
    budget: splitBudget(24, 0.25, 4),
    nHead: 8,
    nHeadKv: 4,
    headDim: 64,
    prompt: 40,
    steps: 64,
  },
  {
    // Each token's score is written by kv_write_slot (minus its key norm); attention adds nothing.
    name: "knorm",
    kv: { kv: "knorm" },
    budget: splitBudget(16, 0.25, 4),
    nHead: 4,
    nHeadKv: 2,
    headDim: 8,
    prompt: 20,
    steps: 64,
  },
];

for (const types of KV_TYPE_PAIRS) {
  cases.forEach((c, i) => {
    Deno.test({
      name:
        `kv decode path(${kvTypesName(types)}, ${c.name}, C=${c.budget.slots}, nHead=${c.nHead}, ` +
        `nHeadKv=${c.nHeadKv}, headDim=${c.headDim}): write → attention scores → evict matches ` +
        `the twin for ${c.steps} steps`,
      ...gpuTestOptions,
      async fn() {
        const evictions = await runPath(c, types, 40 + i);
        assert.equal(evictions > 0, c.budget.compressed);
      },
    });
  });
}
