import assert from "node:assert/strict";
import { UsageError } from "../../src/errors.ts";
import {
  DEFAULT_SAMPLER_PARAMS,
  describeSampler,
  resolveSeed,
  samplerParams,
} from "../../src/sample/params.ts";

Deno.test("samplerParams() fills in llama.cpp's defaults", () => {
  assert.deepEqual(samplerParams(), {
    temperature: 0.8,
    topK: 40,
    topP: 0.95,
    minP: 0.05,
    repeatPenalty: 1,
    repeatLastN: 64,
    seed: 0xffffffff,
  });
  assert.equal(samplerParams({ topK: 0 }).topK, 0);
  assert.ok(Object.isFrozen(DEFAULT_SAMPLER_PARAMS));
});

Deno.test("samplerParams() rejects out-of-range values naming the flag", () => {
  const cases: Array<[Parameters<typeof samplerParams>[0], RegExp]> = [
    [{ temperature: NaN }, /Invalid --temp: expected a finite number, got NaN/],
    [{ topK: -1 }, /Invalid --top-k: expected an integer ≥ 0, got -1/],
    [{ topK: 2.5 }, /Invalid --top-k/],
    [{ topP: 1.5 }, /Invalid --top-p: expected a number from 0 to 1, got 1.5/],
    [{ minP: -0.1 }, /Invalid --min-p/],
    [{ repeatPenalty: 0 }, /Invalid --repeat-penalty: expected a number > 0, got 0/],
    [{ repeatLastN: 4096 }, /Invalid --repeat-last-n: expected an integer from 0 to 2048/],
    [{ seed: -1 }, /Invalid --seed/],
  ];
  for (const [given, message] of cases) {
    assert.throws(() => samplerParams(given), (e: unknown) => {
      assert.ok(e instanceof UsageError);
      assert.match(e.message, message);
      assert.equal(e.exitCode, 2);
      return true;
    });
  }
});

Deno.test("resolveSeed() keeps a given seed and draws one for 0xFFFFFFFF", () => {
  assert.equal(resolveSeed(42), 42);
  const drawn = resolveSeed(0xffffffff);
  assert.ok(Number.isInteger(drawn) && drawn >= 0 && drawn < 0xffffffff);
});

Deno.test("describeSampler() lists the active stages in chain order", () => {
  assert.equal(
    describeSampler(samplerParams({ repeatPenalty: 1.1, seed: 42 })),
    "penalties(last 64, 1.10) → top-k 40 → top-p 0.95 → min-p 0.05 → temp 0.80 → dist(seed 42)",
  );
  assert.equal(describeSampler(samplerParams({ temperature: 0 })), "greedy");
  assert.equal(
    describeSampler(samplerParams({ topK: 0, topP: 1, minP: 0, temperature: 1, seed: 1 })),
    "temp 1.00 → dist(seed 1)",
  );
});
