import assert from "node:assert/strict";
import { speedTests, testName } from "../../src/profile/test_name.ts";

Deno.test("testName() follows llama-bench: pp512, tg128, tg128 @ d1024", () => {
  assert.equal(testName({ nPrompt: 512, nGen: 0, depth: 0 }), "pp512");
  assert.equal(testName({ nPrompt: 0, nGen: 128, depth: 0 }), "tg128");
  assert.equal(testName({ nPrompt: 0, nGen: 128, depth: 1024 }), "tg128 @ d1024");
});

Deno.test("speedTests() runs prompts then generations at every depth and skips zero lengths", () => {
  const names = speedTests([128, 0, 512], [64], [0, 256]).map(testName);
  assert.deepEqual(names, [
    "pp128",
    "pp128 @ d256",
    "pp512",
    "pp512 @ d256",
    "tg64",
    "tg64 @ d256",
  ]);
  assert.deepEqual(speedTests([0], [0], [0]), []);
});
