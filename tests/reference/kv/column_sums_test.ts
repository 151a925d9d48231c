import assert from "node:assert/strict";
import { attention } from "../../../src/reference/attention.ts";
import { attentionScores } from "../../../src/reference/attention_scores.ts";
import {
  causalColumnSums,
  columnVariance,
  groupColumnSums,
} from "../../../src/reference/kv/column_sums.ts";
import { makeRng, randn } from "../../../src/reference/prng.ts";

const SHAPE = { nHead: 6, nHeadKv: 2, headDim: 5 };

function random(seed: number, n: number): Float32Array {
  const rng = makeRng(seed);
  return Float32Array.from({ length: n }, () => 1.5 * randn(rng));
}

for (const tokens of [1, 2, 17]) {
  Deno.test(`causalColumnSums(T=${tokens}) agrees with attention() + attentionScores() and sums to T`, () => {
    const q = random(1, tokens * SHAPE.nHead * SHAPE.headDim);
    const k = random(2, SHAPE.nHeadKv * tokens * SHAPE.headDim);
    const colsum = causalColumnSums(q, k, tokens, SHAPE);
    for (let h = 0; h < SHAPE.nHead; h++) {
      const total = colsum.subarray(h * tokens, (h + 1) * tokens).reduce((s, x) => s + x, 0);
      assert.ok(Math.abs(total - tokens) < 1e-4, `head ${h}: Σ = ${total}`);
    }
    // The engine's score accumulation over the whole prompt gives the group sums.
    const shape = { ...SHAPE, nSlots: tokens };
    const { lse } = attention(q, k, new Float32Array(k.length), tokens, 0, shape);
    const want = attentionScores(q, k, lse, tokens, 0, shape);
    const got = groupColumnSums(colsum, tokens, SHAPE);
    got.forEach((x, i) =>
      assert.ok(Math.abs(x - want[i]!) < 1e-5, `score ${i}: ${x} vs ${want[i]}`)
    );
  });
}

Deno.test("columnVariance() is the unbiased variance per head and 0 for one token", () => {
  const v = columnVariance(new Float32Array([1, 2, 3, 4, 0, 0, 0, 8]), 4, 2);
  assert.ok(Math.abs(v[0]! - 5 / 3) < 1e-12);
  assert.ok(Math.abs(v[1]! - 16) < 1e-12);
  assert.deepEqual([...columnVariance(new Float32Array([3]), 1, 1)], [0]);
});

Deno.test("causalColumnSums() rejects heads that do not group evenly", () => {
  assert.throws(
    () =>
      causalColumnSums(new Float32Array(9), new Float32Array(9), 1, {
        nHead: 3,
        nHeadKv: 2,
        headDim: 1,
      }),
    RangeError,
  );
});
