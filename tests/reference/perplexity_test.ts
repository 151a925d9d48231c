import assert from "node:assert/strict";
import { perplexity } from "../../src/reference/perplexity.ts";

Deno.test("perplexity() of uniform logits equals the vocabulary size", () => {
  const result = perplexity(new Float32Array(3 * 7).fill(0.5), 7, [0, 3, 6, 1]);
  assert.equal(result.predictions, 3);
  assert.ok(Math.abs(result.meanNll - Math.log(7)) < 1e-12);
  assert.ok(Math.abs(result.perplexity - 7) < 1e-9);
});

Deno.test("perplexity() scores row t against token t + 1", () => {
  // Row 0 predicts token 1 with logits [0, ln 3]: p = 3/4. Row 1 predicts token 0: p = 1/4.
  const logits = new Float32Array([0, Math.log(3), 0, Math.log(3)]);
  const result = perplexity(logits, 2, [0, 1, 0]);
  const expected = -(Math.log(0.75) + Math.log(0.25)) / 2;
  assert.ok(Math.abs(result.meanNll - expected) < 1e-7);
  assert.ok(Math.abs(result.perplexity - Math.exp(expected)) < 1e-6);
});

Deno.test("perplexity() rejects fewer than 2 tokens and too few logits", () => {
  assert.throws(() => perplexity(new Float32Array(4), 4, [1]), RangeError);
  assert.throws(
    () => perplexity(new Float32Array(4), 4, [1, 2, 3]),
    (e: unknown) =>
      e instanceof RangeError &&
      e.message === "Cannot score 2 predictions: 4 logits hold only 1 rows of 4",
  );
});
