import assert from "node:assert/strict";
import { UsageError } from "../../src/errors.ts";
import {
  budgetBounds,
  skipLayerSet,
  splitBudget,
  uniformPlan,
  waterFill,
} from "../../src/kv/budget.ts";
import { resolveKvOptions } from "../../src/kv/options.ts";
import { makeRng } from "../../src/reference/prng.ts";

const SHAPE = { nLayer: 4, nHead: 4, nHeadKv: 2, headDim: 8 };

Deno.test("waterFill() hands out exactly the total within bounds, larger weights never getting less", () => {
  const rng = makeRng(3);
  for (let trial = 0; trial < 200; trial++) {
    const n = 1 + Math.floor(rng() * 12);
    const weights = Array.from({ length: n }, () => Math.exp(-rng()));
    const lo = 1 + Math.floor(rng() * 20);
    const hi = lo + Math.floor(rng() * 300);
    const total = n * lo + Math.floor(rng() * (n * (hi - lo) + 1));
    const out = waterFill(weights, total, lo, hi);
    assert.equal(out.reduce((s, x) => s + x, 0), total, `trial ${trial}`);
    for (let a = 0; a < n; a++) {
      assert.ok(out[a]! >= lo && out[a]! <= hi, `trial ${trial}: ${out[a]} outside [${lo}, ${hi}]`);
      for (let b = 0; b < n; b++) {
        if (weights[a]! > weights[b]!) assert.ok(out[a]! >= out[b]!, `trial ${trial}: order`);
      }
    }
  }
});

Deno.test("waterFill() gives the clamped share of a dominant layer to the others", () => {
  // λ·100 is clamped at 6; the other two share 12 − 6 equally.
  assert.deepEqual([...waterFill([100, 1, 1], 12, 2, 6)], [6, 3, 3]);
  // Proportional when nothing clamps: 3:1 of 8.
  assert.deepEqual([...waterFill([3, 1], 8, 1, 10)], [6, 2]);
});

Deno.test("waterFill() rejects a total outside the bounds", () => {
  assert.throws(() => waterFill([1, 1], 3, 2, 5), /Cannot distribute 3 slots over 2 layers/);
  assert.throws(() => waterFill([1, 1], 11, 2, 5), RangeError);
});

Deno.test("splitBudget() splits heavy:recent by the ratio and keeps the sinks in the heavy part", () => {
  assert.deepEqual(splitBudget(100, 0.25, 4), {
    slots: 100,
    heavy: 75,
    recent: 25,
    sinks: 4,
    compressed: true,
  });
  assert.deepEqual(splitBudget(10, 0.5, 0), {
    slots: 10,
    heavy: 5,
    recent: 5,
    sinks: 0,
    compressed: true,
  });
  // Streaming: window = budget − sinks.
  assert.equal(splitBudget(16, 1, 4).recent, 12);
  // A budget smaller than the sinks: all sinks, no window.
  assert.deepEqual(splitBudget(2, 0.25, 4), {
    slots: 2,
    heavy: 2,
    recent: 0,
    sinks: 2,
    compressed: true,
  });
  // The window never squeezes the sinks out.
  assert.deepEqual(splitBudget(6, 0.9, 4), {
    slots: 6,
    heavy: 4,
    recent: 2,
    sinks: 4,
    compressed: true,
  });
});

Deno.test("budgetBounds() floors at min(kvMin, capacity) and caps a fraction at max(T', floor), a token count at the capacity", () => {
  const frac = resolveKvOptions({ kvBudget: 0.2 });
  // A prompt shorter than the floor is not starved: its layers may grow to kvMin (128)...
  assert.deepEqual(budgetBounds(frac, { promptLength: 50, capacity: 300 }), {
    base: 10,
    lo: 128,
    hi: 128,
  });
  // ...but never past the capacity.
  assert.deepEqual(budgetBounds(frac, { promptLength: 50, capacity: 90 }), {
    base: 10,
    lo: 90,
    hi: 90,
  });
  assert.deepEqual(budgetBounds(frac, { promptLength: 1000, capacity: 1500 }), {
    base: 200,
    lo: 128,
    hi: 1000,
  });
  // A token count is taken as given: no floor.
  const tokens = resolveKvOptions({ kvBudget: 512, kvMin: 16 });
  assert.deepEqual(budgetBounds(tokens, { promptLength: 100, capacity: 900 }), {
    base: 512,
    lo: 1,
    hi: 900,
  });
  assert.throws(() => budgetBounds(frac, { promptLength: 100, capacity: 99 }), RangeError);
  assert.throws(() => budgetBounds(frac, { promptLength: 0, capacity: 99 }), RangeError);
});

Deno.test("skipLayerSet() defaults to none or the policy's default, --skip-layers wins, missing layers are rejected", () => {
  assert.deepEqual([...skipLayerSet(resolveKvOptions({}), 5)], []);
  assert.deepEqual([...skipLayerSet(resolveKvOptions({ parity: true }), 32, [0, 1, 31])], [
    0,
    1,
    31,
  ]);
  assert.deepEqual([...skipLayerSet(resolveKvOptions({ parity: true }), 32)], []);
  const given = resolveKvOptions({ parity: true, skipLayers: "" });
  assert.deepEqual([...skipLayerSet(given, 5, [0, 1, 4])], []);
  assert.throws(
    () => skipLayerSet(resolveKvOptions({ skipLayers: "1,5" }), 5),
    (e) =>
      e instanceof UsageError && e.message.includes("--skip-layers") &&
      e.message.includes("valid 0 to 4"),
  );
});

Deno.test("uniformPlan() gives every compressed layer the same rounded, clamped budget", () => {
  const options = resolveKvOptions({ kv: "h2o", kvBudget: 0.25, kvMin: 4, skipLayers: "3" });
  const plan = uniformPlan(options, SHAPE, { promptLength: 30, capacity: 64 }, 0.5);
  // round(0.25·30) = round(7.5) = 8, split 4/4.
  assert.deepEqual(plan.layers.slice(0, 3).map((l) => [l.slots, l.heavy, l.recent]), [
    [8, 4, 4],
    [8, 4, 4],
    [8, 4, 4],
  ]);
  assert.deepEqual(plan.layers[3], {
    slots: 64,
    heavy: 0,
    recent: 64,
    sinks: 0,
    compressed: false,
  });
  assert.equal(plan.nominalSlots, 24);
  // The floor wins over a smaller budget.
  const floored = uniformPlan(
    resolveKvOptions({ kv: "h2o", kvBudget: 0.1 }),
    SHAPE,
    { promptLength: 300, capacity: 400 },
    0.5,
  );
  assert.equal(floored.layers[0]!.slots, 128);
});
