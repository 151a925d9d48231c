import assert from "node:assert/strict";
import { syntheticTokens } from "../../src/profile/synthetic_tokens.ts";

Deno.test("syntheticTokens() starts with BOS, avoids excluded ids and repeats per seed", () => {
  const options = { nVocab: 16, bos: 1, exclude: [1, 2], seed: 9 };
  const a = syntheticTokens(200, options);
  assert.equal(a.length, 200);
  assert.equal(a[0], 1);
  assert.ok(a.slice(1).every((id) => id !== 1 && id !== 2 && id >= 0 && id < 16));
  assert.deepEqual(syntheticTokens(200, options), a);
  assert.notDeepEqual(syntheticTokens(200, { ...options, seed: 10 }), a);
  assert.equal(new Set(a.slice(1)).size, 14, "every allowed id appears in 199 draws of 14");
});

Deno.test("syntheticTokens() without BOS and with no id to draw", () => {
  assert.equal(syntheticTokens(3, { nVocab: 4, seed: 1 }).length, 3);
  assert.deepEqual(syntheticTokens(0, { nVocab: 4, bos: 1, seed: 1 }), []);
  assert.throws(() => syntheticTokens(1, { nVocab: 2, exclude: [0, 1], seed: 1 }), RangeError);
});
