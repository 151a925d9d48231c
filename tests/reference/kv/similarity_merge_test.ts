import assert from "node:assert/strict";
import { mergeBulk, mergeStep, updateTau } from "../../../src/reference/kv/similarity_merge.ts";

const MERGE = { rule: "paper", selfLogit: 1, beta: 0.5, parity: false, valuesOnly: false } as const;

/** One KV head of four slots, 2-d keys: slots 0 and 1 point along x, slot 2 along y, slot 3 near x. */
function view(tau: number) {
  return {
    budget: { slots: 3, heavy: 2, recent: 1, sinks: 0, compressed: true },
    nHeadKv: 1,
    headDim: 2,
    nSlots: 4,
    pos: new Int32Array([0, 1, 2, 3]),
    score: new Float32Array(4),
    keys: new Float32Array([1, 0, 1, 0, 0, 1, 1, 0.1]),
    newestPos: 3,
    tau,
  };
}

Deno.test("updateTau() starts at the first mean and then moves by β toward each new mean", () => {
  assert.equal(updateTau(NaN, 0.25, 0.7), 0.25);
  const tau = updateTau(0.5, 1, 0.7);
  assert.ok(Math.abs(tau - 0.85) < 1e-7);
  assert.equal(tau, Math.fround(tau));
});

Deno.test("mergeStep() merges a victim into its nearest other slot when its similarity passes τ", () => {
  const dropped = () => ({
    evictSlot: new Int32Array([1]),
    mergeTarget: new Int32Array([-1]),
    similarity: new Float32Array([NaN]),
    tau: NaN,
  });
  // Slot 1 equals slot 0: similarity 1, τ starts at 1, 1 ≥ 1 merges (the older position is the target).
  const first = mergeStep(MERGE, view(NaN), dropped());
  assert.deepEqual([[...first.mergeTarget], [...first.similarity], first.tau], [[0], [1], 1]);
  // With τ at 3 before, the new τ is (3 + 1)/2 = 2 and similarity 1 drops the victim.
  const high = mergeStep(MERGE, view(3), dropped());
  assert.deepEqual([[...high.mergeTarget], high.tau], [[-1], 2]);
});

Deno.test("mergeBulk() finds each evicted token's nearest kept slot and sets the first τ", () => {
  const keep = new Uint8Array([1, 0, 1, 0]);
  const decision = mergeBulk(MERGE, view(NaN), {
    keep,
    mergeTarget: new Int32Array(4).fill(-1),
    similarity: new Float32Array(4).fill(NaN),
    tau: NaN,
  });
  const s3 = decision.similarity[3]!;
  assert.ok(Math.abs(s3 - 1 / Math.hypot(1, 0.1)) < 1e-6);
  // τ = mean(1, s3) < 1: slot 1 (similarity 1) merges into slot 0, slot 3 (below τ) is dropped.
  assert.ok(Math.abs(decision.tau - Math.fround((1 + s3) / 2)) < 1e-7);
  assert.deepEqual([...decision.mergeTarget], [-1, 0, -1, -1]);
  assert.deepEqual([...decision.keep], [...keep]);
});
