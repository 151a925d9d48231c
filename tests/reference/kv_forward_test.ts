/**
 * The reference forward pass under every KV policy: `full` gives the
 * full-cache reference's logits bit for bit; the compressing policies keep
 * their invariants at every decode step on stories260K with teacher-forced
 * text; and the perplexity each policy reaches at 20% of a 256-token prefix.
 */

import assert from "node:assert/strict";
import { ensureFixtures } from "../../fixtures/make_fixtures.ts";
import { LimitError } from "../../src/errors.ts";
import { describeKvTypes, kvTypes } from "../../src/gpu/ops/kv_elem.ts";
import { openModel } from "../../src/model/model_file.ts";
import { type KvOptionsInput, resolveKvOptions } from "../../src/kv/options.ts";
import { createKvPolicy } from "../../src/kv/registry.ts";
import { FREE } from "../../src/reference/kv/slot_table.ts";
import { argmax } from "../../src/reference/argmax.ts";
import { ReferenceModel } from "../../src/reference/forward.ts";
import { type KvLayerState, ReferencePolicyModel } from "../../src/reference/kv_forward.ts";
import { loadReferenceWeights, type ReferenceWeights } from "../../src/reference/model_weights.ts";
import { perplexity } from "../../src/reference/perplexity.ts";
import { tokenizerFromMetadata } from "../../src/tokenizer/mod.ts";

const SHARED = new URL("../../../shared/", import.meta.url);

const stories = (async () => {
  const model = await openModel(new URL("models/stories260K.gguf", SHARED).pathname);
  try {
    const tokenizer = tokenizerFromMetadata(model.gguf.metadata);
    const text = await Deno.readTextFile(new URL("oracle/ppl-text.txt", SHARED));
    return { weights: await loadReferenceWeights(model), text: tokenizer.encode(text) };
  } finally {
    model.close();
  }
})();

async function fixtureWeights(name: string): Promise<ReferenceWeights> {
  const path = (await ensureFixtures()).get(name);
  assert.ok(path, `fixture "${name}"`);
  const model = await openModel(path);
  try {
    return await loadReferenceWeights(model);
  } finally {
    model.close();
  }
}

function policyModel(
  weights: ReferenceWeights,
  input: KvOptionsInput,
  nCtx: number,
): ReferencePolicyModel {
  return new ReferencePolicyModel(weights, createKvPolicy(resolveKvOptions(input)), { nCtx });
}

/**
 * Runs a prompt then greedy decode steps on both models and asserts every
 * logit is identical; returns the policy model.
 */
function assertSameAsFullCache(
  weights: ReferenceWeights,
  prompt: number[],
  steps: number,
): ReferencePolicyModel {
  const nCtx = prompt.length + steps;
  const reference = new ReferenceModel(weights, { nCtx });
  const model = policyModel(weights, { kv: "full" }, nCtx);
  let expected = reference.forward(prompt, 0, { allLogits: true });
  assert.deepEqual(model.forward(prompt, 0, { allLogits: true }), expected);
  for (let p = prompt.length; p < nCtx; p++) {
    const next = argmax(expected.subarray(expected.length - weights.hparams.nVocab));
    expected = reference.forward([next], p);
    assert.deepEqual(model.forward([next], p), expected, `position ${p}`);
  }
  return model;
}

/** Asserts the full policy kept slot = position and never evicted. */
function assertSlotIsPosition(model: ReferencePolicyModel, tokens: number): void {
  for (let l = 0; l < model.hparams.nLayer; l++) {
    const state = model.layerState(l);
    assert.equal(state.nSlots, model.nCtx);
    for (let h = 0; h < model.hparams.nHeadKv; h++) {
      for (let s = 0; s < state.nSlots; s++) {
        assert.equal(state.pos[h * state.nSlots + s], s < tokens ? s : FREE);
      }
    }
    assert.ok(Number.isNaN(state.tau));
    assert.deepEqual([...model.lastStep![l]!.evictSlot], Array(model.hparams.nHeadKv).fill(-1));
  }
}

Deno.test("ReferencePolicyModel with full gives the full-cache logits exactly on stories260K", async () => {
  const { weights, text } = await stories;
  const model = assertSameAsFullCache(weights, text.slice(0, 40), 20);
  assertSlotIsPosition(model, 60);
  assert.equal(model.prefill!.compressions.every((c) => c === null), true);
});

Deno.test("ReferencePolicyModel with full gives the full-cache logits exactly on the q8_0 llama fixture", async () => {
  const weights = await fixtureWeights("llama-q8_0");
  const model = assertSameAsFullCache(weights, [1, 5, 9, 13, 200, 77, 31, 4], 20);
  assertSlotIsPosition(model, 28);
});

/** The positions a KV head holds. */
function positions(state: KvLayerState, head: number): number[] {
  const pos = state.pos.subarray(head * state.nSlots, (head + 1) * state.nSlots);
  return [...pos].filter((p) => p !== FREE).sort((a, b) => a - b);
}

/** What a run did: evictions and merges summed over layers and heads, the layers that evicted. */
interface RunCounts {
  evictions: number;
  merges: number;
  evicted: Set<number>;
}

/**
 * Checks one layer after the decode step at `p`, given its state before the
 * step: occupancy, sinks, window, the one victim, merges against τ.
 */
function checkStep(
  model: ReferencePolicyModel,
  l: number,
  before: KvLayerState,
  p: number,
  counts: RunCounts,
): void {
  const after = model.layerState(l);
  const { budget, nSlots } = after;
  const decision = model.lastStep![l]!;
  const parity = model.policy.options.parity;
  const where = `layer ${l} at ${p}`;
  assert.equal(after.newestPos, p, where);
  const merged = new Set<boolean>();
  for (let h = 0; h < model.hparams.nHeadKv; h++) {
    const kept = positions(after, h);
    const expected = new Set([...positions(before, h), p]);
    const victim = decision.evictSlot[h]!;
    if (victim >= 0) {
      const victimPos = before.pos[h * nSlots + victim] === FREE
        ? p
        : before.pos[h * nSlots + victim]!;
      assert.ok(victimPos >= budget.sinks && victimPos <= p - budget.recent, `${where}: victim`);
      expected.delete(victimPos);
      counts.evictions++;
      counts.evicted.add(l);
      const target = decision.mergeTarget[h]!;
      merged.add(target >= 0);
      if (target >= 0) {
        counts.merges++;
        assert.notEqual(target, victim, where);
        assert.notEqual(after.pos[h * nSlots + target], FREE, `${where}: merge target`);
      }
      if (!parity && model.policy.name === "d2o") {
        assert.equal(target >= 0, decision.similarity[h]! >= decision.tau, `${where}: τ rule`);
      }
    }
    // No position lost or duplicated: the old ones plus p, minus the victim.
    assert.deepEqual(kept, [...expected].sort((a, b) => a - b), `${where}, head ${h}`);
    const occupancy = budget.compressed ? Math.min(budget.slots, p + 1) : p + 1;
    assert.equal(kept.length, occupancy, `${where}: occupancy`);
    if (budget.compressed) {
      for (let s = 0; s < budget.sinks; s++) assert.ok(kept.includes(s), `${where}: sink ${s}`);
      for (let r = p - budget.recent + 1; r <= p; r++) {
        assert.ok(kept.includes(r), `${where}: recent ${r}`);
      }
    }
  }
  // Parity decides for all heads at once.
  if (parity) assert.ok(merged.size <= 1, `${where}: heads disagree`);
  // d2o sets τ at its layer's first eviction (prefill or decode); the others never do.
  const tauSet = model.policy.name === "d2o" && counts.evicted.has(l);
  assert.equal(Number.isNaN(after.tau), !tauSet, `${where}: τ ${after.tau}`);
}

const PROMPT = 100;
const STEPS = 72;
const POLICIES: Record<string, KvOptionsInput> = {
  streaming: { kv: "streaming" },
  h2o: { kv: "h2o" },
  d2o: { kv: "d2o" },
  // This test reads the prefill compression: parity with its compression moved to the prompt's end.
  "d2o --parity --compress-at prefill": { kv: "d2o", parity: true, compressAt: "prefill" },
};

for (const [name, input] of Object.entries(POLICIES)) {
  for (const budget of [0.5, 0.2]) {
    Deno.test(`ReferencePolicyModel with ${name} at ${budget} keeps the invariants over ${STEPS} decode steps of stories260K`, async () => {
      const { weights, text } = await stories;
      const model = policyModel(weights, { ...input, kvBudget: budget, kvMin: 4 }, 512);
      const counts: RunCounts = { evictions: 0, merges: 0, evicted: new Set() };
      assert.ok(model.forward(text.slice(0, PROMPT), 0).every(Number.isFinite));
      const { plan, compressions } = model.prefill!;
      for (let l = 0; l < model.hparams.nLayer; l++) {
        const state = model.layerState(l);
        const budgetL = plan.layers[l]!;
        assert.equal(state.nSlots, budgetL.compressed ? budgetL.slots + 1 : 512);
        for (let h = 0; h < model.hparams.nHeadKv; h++) {
          // Prefill keeps min(C, T') positions in ascending order in slots 0.. .
          const kept = Math.min(budgetL.slots, PROMPT);
          const row = [...state.pos.subarray(h * state.nSlots, h * state.nSlots + kept)];
          assert.deepEqual(row, positions(state, h), `layer ${l} head ${h}`);
        }
        const compressedNow = budgetL.compressed && budgetL.slots < PROMPT;
        assert.equal(compressions[l] !== null, compressedNow, `layer ${l}`);
        if (compressedNow) counts.evicted.add(l);
        assert.equal(Number.isNaN(state.tau), !(name.startsWith("d2o") && compressedNow));
      }
      for (let p = PROMPT; p < PROMPT + STEPS; p++) {
        const before = Array.from({ length: model.hparams.nLayer }, (_, l) => model.layerState(l));
        const logits = model.forward([text[p]!], p);
        assert.ok(logits.every(Number.isFinite), `logits at ${p}`);
        before.forEach((state, l) => checkStep(model, l, state, p, counts));
      }
      const compressed = plan.layers.filter((b) => b.compressed).length;
      assert.equal(counts.evictions, compressed * model.hparams.nHeadKv * STEPS);
      if (name === "d2o") assert.ok(counts.merges > 0, "d2o merged nothing");
      else if (!name.startsWith("d2o")) assert.equal(counts.merges, 0);
    });
  }
}

Deno.test("ReferencePolicyModel with d2o resets τ and the cache for a new prompt", async () => {
  const { weights, text } = await stories;
  const input = { kv: "d2o", kvBudget: 0.3, kvMin: 4 };
  const reused = policyModel(weights, input, 256);
  reused.forward(text.slice(0, 50), 0);
  for (let p = 50; p < 60; p++) reused.forward([text[p]!], p);
  const prompt = text.slice(100, 140);
  const again = reused.forward(prompt, 0);
  const fresh = policyModel(weights, input, 256);
  assert.deepEqual(again, fresh.forward(prompt, 0));
  assert.equal(reused.lastStep, null);
  for (let l = 0; l < weights.hparams.nLayer; l++) {
    assert.deepEqual(reused.layerState(l), fresh.layerState(l));
  }
});

Deno.test("ReferencePolicyModel.forward() rejects a position that does not continue the sequence and a full uncompressed cache", async () => {
  const { weights } = await stories;
  const model = policyModel(weights, { kv: "full" }, 4);
  assert.throws(
    () => model.forward([5], 1),
    (e: unknown) =>
      e instanceof RangeError &&
      e.message === "Cannot run position 1: the sequence continues at position 0",
  );
  assert.throws(() => model.layerState(0), /no prompt has run/);
  assert.throws(
    () => model.forward([1, 2, 3, 4, 5], 0),
    (e: unknown) =>
      e instanceof LimitError &&
      e.message === "Cannot run tokens at positions 0 to 4: the KV cache holds 4",
  );
  model.forward([1, 2, 3], 0);
  assert.throws(() => model.forward([4], 2), /continues at position 3/);
  model.forward([4], 3);
  assert.throws(
    () => model.forward([5], 4),
    (e: unknown) =>
      e instanceof LimitError &&
      e.message === "Cannot cache position 4: all 4 slots are in use",
  );
});

Deno.test("ReferencePolicyModel at 20% of a 256-token prefix: perplexity of the next 256 tokens per policy", async () => {
  const { weights, text } = await stories;
  const prefix = 256;
  const scored = text.slice(prefix - 1, prefix + 256); // row t predicts scored[t + 1]
  const nVocab = weights.hparams.nVocab;
  const run = (forward: (tokens: number[], pos: number) => Float32Array) => {
    const logits = new Float32Array((scored.length - 1) * nVocab);
    logits.set(forward(text.slice(0, prefix), 0));
    for (let p = prefix; p < prefix + scored.length - 2; p++) {
      logits.set(forward([text[p]!], p), (p - prefix + 1) * nVocab);
    }
    return perplexity(logits, nVocab, scored);
  };
  const reference = new ReferenceModel(weights, { nCtx: 512 });
  const full = run((tokens, pos) => reference.forward(tokens, pos));
  const lines = [`full-cache reference: ppl ${full.perplexity.toFixed(4)}`];
  for (const [name, input] of Object.entries({ full: { kv: "full" }, ...POLICIES })) {
    const model = policyModel(weights, { ...input, kvBudget: 0.2, kvMin: 4 }, 512);
    const result = run((tokens, pos) => model.forward(tokens, pos));
    const layers = model.prefill!.plan.layers;
    const slots = layers.map((b) => (b.compressed ? b.slots : "full")).join(",");
    lines.push(`${name}: ppl ${result.perplexity.toFixed(4)} (C per layer ${slots})`);
    assert.equal(result.predictions, 256);
    if (name === "full") {
      assert.equal(result.perplexity, full.perplexity);
    } else {
      // A broken cache scores near the vocabulary size; compression costs far less.
      assert.ok(result.perplexity < 2 * full.perplexity, `${name}: ${result.perplexity}`);
    }
    if (name === "d2o") {
      // Exact-budget mode: 20% of 256 tokens in each of 5 layers, + 1 free slot per layer.
      assert.equal(layers.reduce((n, b) => n + b.slots + 1, 0), 256 + 5);
    }
  }
  console.log(lines.join("\n"));
});

Deno.test("ReferencePolicyModel with --compress-at first-decode attends over T + 1 rows, then compresses them", async () => {
  const { weights, text } = await stories;
  const full = policyModel(weights, { kv: "full" }, 512);
  const model = policyModel(weights, {
    kv: "d2o",
    kvBudget: 0.2,
    kvMin: 4,
    compressAt: "first-decode",
  }, 512);
  assert.deepEqual(model.forward(text.slice(0, PROMPT), 0), full.forward(text.slice(0, PROMPT), 0));
  assert.equal(model.prefill, null, "nothing compressed before the first decode step");
  // The first decode step sees the whole cache: the full cache's logits.
  assert.deepEqual(model.forward([text[PROMPT]!], PROMPT), full.forward([text[PROMPT]!], PROMPT));
  const { plan, promptLength, compressions } = model.prefill!;
  assert.equal(promptLength, PROMPT + 1);
  assert.equal(model.lastStep, null, "the first step compresses in bulk, it does not evict");
  plan.layers.forEach((b, l) => {
    assert.ok(b.compressed && compressions[l] !== null, `layer ${l} compressed`);
    const state = model.layerState(l);
    for (let h = 0; h < model.hparams.nHeadKv; h++) {
      const kept = positions(state, h);
      assert.equal(kept.length, b.slots, `layer ${l} head ${h}: C rows of the T + 1`);
      assert.ok(kept.includes(PROMPT), "the first decode token is in the recent window");
    }
    assert.ok(!Number.isNaN(state.tau), "τ set by the compression");
  });
  // Then one eviction per step, as after a prefill compression.
  model.forward([text[PROMPT + 1]!], PROMPT + 1);
  assert.ok(model.lastStep!.every((d) => [...d.evictSlot].every((s) => s >= 0)));
});

Deno.test("ReferencePolicyModel with an f16 cache holds halves only: prompt rows, decoded rows and d2o's merged rows; f16 keys over f32 values round the keys alone", async () => {
  const { weights, text } = await stories;
  const halves = (x: Float32Array) => x.every((v) => Math.f16round(v) === v);
  for (const types of [kvTypes("f16"), kvTypes("f16", "f32")]) {
    const policy = createKvPolicy(resolveKvOptions({ kv: "d2o", kvBudget: 0.2, kvMin: 4 }));
    const model = new ReferencePolicyModel(weights, policy, { nCtx: 512, kvTypes: types });
    model.forward(text.slice(0, PROMPT), 0);
    let merges = 0;
    for (let p = PROMPT; p < PROMPT + 24; p++) {
      model.forward([text[p]!], p);
      merges += model.lastStep!.reduce((n, d) => n + d.mergeTarget.filter((t) => t >= 0).length, 0);
      for (let l = 0; l < model.hparams.nLayer; l++) {
        const state = model.layerState(l);
        assert.ok(halves(state.keys), `${describeKvTypes(types)}: layer ${l} keys at ${p}`);
        assert.equal(halves(state.values), types.v === "f16", `layer ${l} values at ${p}`);
      }
    }
    assert.ok(merges > 0, "d2o merged while decoding");
  }
});
