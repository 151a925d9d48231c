import assert from "node:assert/strict";
import { QualityAccumulator } from "../../src/profile/quality.ts";
import { perplexity } from "../../src/reference/perplexity.ts";

const close = (a: number, b: number, tol = 1e-9) =>
  assert.ok(Math.abs(a - b) < tol, `${a} is not within ${tol} of ${b}`);

Deno.test("QualityAccumulator scores a hand-checked pair of distributions", () => {
  // Reference: p = (1/2, 1/2), top 0 (the first of a tie). Run: q = (1/4, 3/4), top 1.
  const ref = new QualityAccumulator(2, 1, { record: true });
  ref.add(new Float32Array([5, 5]), 1);
  close(ref.score().perplexity, 2, 1e-6);
  assert.equal(ref.score().meanKl, 0);
  assert.equal(ref.score().sameTop, 1);
  const run = new QualityAccumulator(2, 1, { reference: ref.reference() });
  run.add(new Float32Array([0, Math.log(3)]), 1);
  const s = run.score();
  assert.equal(s.scored, 1);
  close(s.meanNll, -Math.log(0.75), 1e-6);
  close(s.meanKl, 0.5 * Math.log(2) + 0.5 * Math.log(2 / 3), 1e-6);
  assert.equal(s.sameTop, 0);
});

Deno.test("QualityAccumulator gives the reference perplexity() of random logits", () => {
  const V = 37;
  const T = 50;
  let seed = 12345;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const logits = Float32Array.from({ length: T * V }, () => 8 * rand() - 4);
  const tokens = Array.from({ length: T + 1 }, () => Math.floor(rand() * V));
  const acc = new QualityAccumulator(V, T, { record: true });
  for (let t = 0; t < T; t++) acc.add(logits.subarray(t * V, (t + 1) * V), tokens[t + 1]!);
  const want = perplexity(logits, V, tokens);
  close(acc.score().perplexity, want.perplexity, 1e-9);
  // The same logits against themselves: no divergence, the same top token everywhere.
  const again = new QualityAccumulator(V, T, { reference: acc.reference() });
  for (let t = 0; t < T; t++) again.add(logits.subarray(t * V, (t + 1) * V), tokens[t + 1]!);
  assert.ok(again.score().meanKl < 1e-6);
  assert.equal(again.score().sameTop, 1);
});

Deno.test("QualityAccumulator rejects rows of the wrong length and too many rows", () => {
  const acc = new QualityAccumulator(3, 1);
  assert.throws(() => acc.add(new Float32Array(2), 0), RangeError);
  acc.add(new Float32Array(3), 0);
  assert.throws(() => acc.add(new Float32Array(3), 0), RangeError);
  assert.throws(() => acc.reference(), Error);
  const twoRows = { logProbs: new Float32Array(6), top: new Int32Array(2) };
  assert.throws(() => new QualityAccumulator(3, 1, { reference: twoRows }), RangeError);
});
