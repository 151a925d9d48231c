import assert from "node:assert/strict";
import { mergeWeights } from "../../../src/reference/kv/merge_rule.ts";
import { makeRng } from "../../../src/reference/prng.ts";

Deno.test("mergeWeights() paper rule is a softmax with self-logit 1: weights sum to 1", () => {
  const rng = makeRng(4);
  for (let trial = 0; trial < 100; trial++) {
    const sims = Array.from({ length: 1 + Math.floor(rng() * 6) }, () => 2 * rng() - 1);
    const w = mergeWeights("paper", sims, 1);
    const D = Math.E + sims.reduce((s, u) => s + Math.exp(u), 0);
    assert.ok(Math.abs(w[0]! - Math.E / D) < 1e-6);
    sims.forEach((u, i) => assert.ok(Math.abs(w[i + 1]! - Math.exp(u) / D) < 1e-6));
    assert.ok(Math.abs(w.reduce((s, x) => s + x, 0) - 1) < 1e-6);
  }
});

Deno.test("mergeWeights() paper rule honours the self-logit", () => {
  // Self-logit 0 and similarity 0: exp(0) each, two equal halves.
  assert.deepEqual([...mergeWeights("paper", [0], 0)], [0.5, 0.5]);
});

Deno.test("mergeWeights() code rule scales members by similarity over 1 + |G|", () => {
  const w = mergeWeights("code", [0.5, 1], 1);
  assert.deepEqual([...w], [1 / 3, 0.5 / 3, 1 / 3].map(Math.fround));
  assert.ok(w.reduce((s, x) => s + x, 0) < 1);
});
