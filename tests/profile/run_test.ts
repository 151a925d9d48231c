import assert from "node:assert/strict";
import { neededContext } from "../../src/profile/run.ts";

Deno.test("neededContext() covers the deepest test and the longest text", () => {
  assert.equal(neededContext([{ nPrompt: 512, nGen: 0, depth: 1024 }], []), 1536);
  // A generation test at depth 0 runs BOS first, then its tokens.
  assert.equal(neededContext([{ nPrompt: 0, nGen: 128, depth: 0 }], []), 129);
  assert.equal(neededContext([{ nPrompt: 0, nGen: 128, depth: 64 }], [1449]), 1449);
  assert.equal(neededContext([], []), 1);
});
