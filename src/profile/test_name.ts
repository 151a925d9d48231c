/**
 * llama-bench's test names: `pp512` (a 512-token prompt), `tg128` (128
 * generated tokens), with ` @ d1024` when the test starts with 1024 tokens
 * already in the cache.
 *
 * @module
 */

/** One speed test: a prompt run or a generation run at a context depth. */
export interface SpeedTest {
  /** Prompt tokens timed (0 for a generation test). */
  readonly nPrompt: number;
  /** Tokens generated and timed (0 for a prompt test). */
  readonly nGen: number;
  /** Tokens already in the cache when the timed part starts. */
  readonly depth: number;
}

/**
 * The llama-bench name of a test.
 *
 * @param test the test
 * @returns e.g. `pp512`, `tg128`, `tg128 @ d1024`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { testName } from "./test_name.ts";
 * assert.equal(testName({ nPrompt: 0, nGen: 128, depth: 1024 }), "tg128 @ d1024");
 * ```
 */
export function testName(test: SpeedTest): string {
  const base = test.nPrompt > 0 ? `pp${test.nPrompt}` : `tg${test.nGen}`;
  return test.depth > 0 ? `${base} @ d${test.depth}` : base;
}

/**
 * The tests of a llama-bench-style run: every prompt length, then every
 * generation length, each at every depth. Lengths of 0 are skipped (as
 * llama-bench's `-p 0`).
 *
 * @param prompts prompt lengths (`-p`)
 * @param gens generation lengths (`-n`)
 * @param depths context depths (`-d`)
 * @returns the tests in run order
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { speedTests, testName } from "./test_name.ts";
 * assert.deepEqual(speedTests([512], [128], [0]).map(testName), ["pp512", "tg128"]);
 * ```
 */
export function speedTests(
  prompts: readonly number[],
  gens: readonly number[],
  depths: readonly number[],
): SpeedTest[] {
  const tests: SpeedTest[] = [];
  for (const nPrompt of prompts.filter((n) => n > 0)) {
    for (const depth of depths) tests.push({ nPrompt, nGen: 0, depth });
  }
  for (const nGen of gens.filter((n) => n > 0)) {
    for (const depth of depths) tests.push({ nPrompt: 0, nGen, depth });
  }
  return tests;
}
