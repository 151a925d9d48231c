import assert from "node:assert/strict";
import { baseSpec } from "../../../src/kv/policy_base.ts";
import { compressDecision, stepDecision } from "../../../src/reference/kv/decide.ts";

const MERGE = { rule: "paper", selfLogit: 1, beta: 0.7, parity: false, valuesOnly: false } as const;

/** One KV head: slots 0..3 hold positions 0..3, slot 1 the lowest score, keys 1 and 0 equal. */
function view() {
  return {
    budget: { slots: 3, heavy: 2, recent: 1, sinks: 0, compressed: true },
    nHeadKv: 1,
    headDim: 2,
    nSlots: 4,
    pos: new Int32Array([0, 1, 2, 3]),
    score: new Float32Array([0.5, 0.1, 0.3, 0]),
    keys: new Float32Array([1, 0, 1, 0, 0, 1, 1, 1]),
    newestPos: 3,
    tau: NaN,
  };
}

Deno.test("compressDecision() keeps the same slots with or without merging; only a merging spec merges", () => {
  const dropped = compressDecision(baseSpec({ score: "attention" }), view());
  const merged = compressDecision(baseSpec({ score: "attention", merge: MERGE }), view());
  assert.deepEqual([...dropped.keep], [1, 0, 1, 1]);
  assert.deepEqual([...merged.keep], [1, 0, 1, 1]);
  assert.deepEqual([...dropped.mergeTarget], [-1, -1, -1, -1]);
  assert.ok(Number.isNaN(dropped.tau));
  assert.deepEqual([...merged.mergeTarget], [-1, 0, -1, -1]);
  assert.equal(merged.tau, 1);
});

Deno.test("stepDecision() evicts the lowest candidate at C + 1 tokens only when the spec evicts", () => {
  const evict = stepDecision(baseSpec({ score: "attention" }), view());
  assert.deepEqual([...evict.evictSlot], [1]);
  assert.deepEqual([...evict.mergeTarget], [-1]);
  for (const decode of ["grow", "none"] as const) {
    const kept = stepDecision(baseSpec({ score: "attention", decode, merge: MERGE }), view());
    assert.deepEqual([...kept.evictSlot, ...kept.mergeTarget], [-1, -1], decode);
    assert.ok(Number.isNaN(kept.tau), decode);
  }
  const merged = stepDecision(baseSpec({ score: "attention", merge: MERGE }), view());
  assert.deepEqual([[...merged.evictSlot], [...merged.mergeTarget], merged.tau], [[1], [0], 1]);
});
