import assert from "node:assert/strict";
import { D2O, D2oPolicy, d2oSettings } from "../../src/kv/d2o.ts";
import { type KvOptionsInput, resolveKvOptions } from "../../src/kv/options.ts";
import type { KvShape } from "../../src/kv/policy.ts";
import { makeRng } from "../../src/reference/prng.ts";

function policy(input: KvOptionsInput): D2oPolicy {
  return new D2oPolicy(resolveKvOptions({ kv: "d2o", ...input }));
}

function shape(nLayer: number): KvShape {
  return { nLayer, nHead: 4, nHeadKv: 2, headDim: 8 };
}

function randomVariances(seed: number, nLayer: number): number[][] {
  const rng = makeRng(seed);
  return Array.from({ length: nLayer }, () => Array.from({ length: 4 }, () => 10 * rng()));
}

Deno.test("D2oPolicy.plan() in exact mode makes Σ C_ℓ = round(L·ρ·T') and follows −F", () => {
  for (let seed = 1; seed <= 40; seed++) {
    const nLayer = 2 + (seed % 7);
    const promptLength = 50 + seed * 37;
    const rho = [0.05, 0.2, 0.5, 0.9][seed % 4]!;
    const plan = policy({ kvBudget: rho, kvMin: 8 }).plan(shape(nLayer), {
      promptLength,
      capacity: 2 * promptLength,
      headVariance: randomVariances(seed, nLayer),
    });
    const lo = Math.min(8, promptLength);
    const want = Math.max(Math.round(nLayer * rho * promptLength), nLayer * lo);
    const slots = plan.layers.map((l) => l.slots);
    assert.equal(slots.reduce((s, x) => s + x, 0), want, `seed ${seed}`);
    assert.equal(plan.nominalSlots, want);
    assert.ok(plan.layers.every((l) => l.compressed && l.slots >= lo && l.slots <= promptLength));
    const f = plan.statistic!;
    for (let a = 0; a < nLayer; a++) {
      for (let b = 0; b < nLayer; b++) {
        if (f[a]! < f[b]!) assert.ok(slots[a]! >= slots[b]!, `seed ${seed}: layer ${a} vs ${b}`);
      }
    }
    // α sums to L.
    assert.ok(Math.abs(plan.share!.reduce((s, x) => s + x, 0) - nLayer) < 1e-9);
  }
});

Deno.test("D2oPolicy.plan() shares a two-layer budget by softmax(−F)", () => {
  // Layer 0: equal head variances → F = 0. Layer 1: variances 0 and 1 → F = (0 + 1/(1+1e-6))/2.
  const plan = policy({ kvBudget: 0.5, kvMin: 1 }).plan(shape(2), {
    promptLength: 100,
    capacity: 200,
    headVariance: [[1, 1], [0, 1]],
  });
  const f1 = 0.5 / (1 + 1e-6);
  assert.ok(Math.abs(plan.statistic![1]! - f1) < 1e-12);
  const a0 = 2 / (1 + Math.exp(-f1));
  // x = α·50: 62.25 and 37.75 → 62 and 38 (sum 100).
  assert.ok(Math.abs(plan.share![0]! - a0) < 1e-12);
  assert.deepEqual(plan.layers.map((l) => l.slots), [
    Math.round(50 * a0),
    100 - Math.round(50 * a0),
  ]);
  // 62 → window ⌊15.5⌋ = 15, heavy 47; 38 → window ⌊9.5⌋ = 9, heavy 29.
  assert.deepEqual(plan.layers.map((l) => [l.heavy, l.recent, l.sinks]), [[47, 15, 4], [29, 9, 4]]);
});

Deno.test("D2oPolicy.plan() in parity mode skips {0, 1, L−1} and floors N and M like the reference code", () => {
  const variances = randomVariances(5, 5);
  const plan = policy({ kvBudget: 0.2, kvMin: 1, parity: true }).plan(shape(5), {
    promptLength: 1000,
    capacity: 1200,
    headVariance: variances,
  });
  for (const l of [0, 1, 4]) {
    assert.deepEqual(plan.layers[l], {
      slots: 1200,
      heavy: 0,
      recent: 1200,
      sinks: 0,
      compressed: false,
    });
  }
  for (const l of [2, 3]) {
    const rhoL = Math.min(1, Math.max(0.01, plan.share![l]! * 0.2));
    const heavy = Math.floor(1000 * rhoL * 0.5);
    const recent = Math.floor(1000 * rhoL * 0.5);
    assert.deepEqual(plan.layers[l], {
      slots: heavy + recent,
      heavy,
      recent,
      sinks: 4,
      compressed: true,
    });
  }
});

Deno.test("D2oPolicy.plan() with the raw statistic ranks layers by their mean variance", () => {
  // Each layer's heads agree, so the per-head min-max makes F equal; raw does not.
  const stats = { promptLength: 100, capacity: 100, headVariance: [[1, 1], [3, 3]] };
  const minmax = policy({ kvBudget: 0.5, kvMin: 1 }).plan(shape(2), stats);
  assert.deepEqual(minmax.layers.map((l) => l.slots), [50, 50]);
  const raw = policy({ kvBudget: 0.5, kvMin: 1, params: { d2oStat: "raw" } }).plan(shape(2), stats);
  assert.deepEqual([...raw.statistic!], [0, 2 / (2 + 1e-6)]);
  assert.ok(raw.layers[0]!.slots > raw.layers[1]!.slots);
});

Deno.test("D2oPolicy.plan() rejects missing head variances", () => {
  assert.throws(
    () => policy({}).plan(shape(3), { promptLength: 10, capacity: 10 }),
    /expected head variances for 3 layers, got none/,
  );
});

Deno.test("D2oPolicy.estimatePlan() is the uniform plan with d2o's split, skipping {0, 1, L−1} in parity mode", () => {
  const stats = { promptLength: 100, capacity: 200 };
  const plain = policy({ kvBudget: 0.5, kvMin: 1 }).estimatePlan(shape(4), stats);
  assert.deepEqual(plain.layers.map((l) => [l.slots, l.heavy, l.recent, l.sinks]), [
    [50, 38, 12, 4],
    [50, 38, 12, 4],
    [50, 38, 12, 4],
    [50, 38, 12, 4],
  ]);
  const parity = policy({ kvBudget: 0.2, parity: true }).estimatePlan(shape(4), stats);
  assert.deepEqual(parity.layers.map((l) => l.compressed), [false, false, true, false]);
  assert.deepEqual(parity.layers[2], {
    slots: 20,
    heavy: 10,
    recent: 10,
    sinks: 4,
    compressed: true,
  });
});

Deno.test("d2oSettings() reads d2o's flags from params and the spec follows them", () => {
  const p = policy({
    params: { d2oBeta: "0.25", mergeParts: "values", mergeDecision: "head-mean" },
  });
  assert.deepEqual(d2oSettings(p.options), {
    beta: 0.25,
    mergeRule: "paper",
    mergeSelfLogit: 1,
    layerStatistic: "head-minmax",
    mergeDecision: "head-mean",
    mergeParts: "values",
  });
  assert.deepEqual(p.spec.merge, {
    rule: "paper",
    selfLogit: 1,
    beta: 0.25,
    parity: true,
    valuesOnly: true,
  });
  assert.deepEqual(D2O.flags.map((f) => f.flag.split(" ")[0]), [
    "--d2o-beta",
    "--merge-rule",
    "--merge-self-logit",
    "--d2o-stat",
    "--merge-decision",
    "--merge-parts",
  ]);
});
