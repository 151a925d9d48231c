import assert from "node:assert/strict";
import { D2O_ABLATIONS, profileConfigs } from "../../src/profile/configs.ts";
import { UsageError } from "../../src/errors.ts";

Deno.test("profileConfigs() crosses policies with budgets and runs the full cache once", () => {
  const configs = profileConfigs(["full", "streaming", "d2o"], ["0.1", "256"], { sinks: "2" });
  assert.deepEqual(configs.map((c) => [c.label, c.budget]), [
    ["full", "-"],
    ["streaming", "0.1"],
    ["streaming", "256"],
    ["d2o", "0.1"],
    ["d2o", "256"],
  ]);
  assert.deepEqual(configs[1]!.kv.budget, { kind: "fraction", value: 0.1 });
  assert.deepEqual(configs[2]!.kv.budget, { kind: "tokens", value: 256 });
  assert.ok(configs.slice(1).every((c) => c.kv.sinks === 2), "common flags reach every policy");
});

Deno.test("profileConfigs() adds the d2o ablations with d2o's sinks and window", () => {
  const configs = profileConfigs(["d2o"], ["0.2"], { recentRatio: "0.4" }, { ablate: true });
  assert.equal(configs.length, 1 + D2O_ABLATIONS.length);
  const noAlloc = configs.find((c) => c.label === "d2o −alloc −merge")!;
  assert.equal(noAlloc.kv.policy, "h2o");
  assert.equal(noAlloc.kv.sinks, configs[0]!.kv.sinks);
  assert.equal(noAlloc.kv.recentRatio, 0.4);
  assert.equal(configs.find((c) => c.label === "d2o −merge")!.kv.params?.["mergeSelfLogit"], 20);
  assert.equal(configs.find((c) => c.label === "d2o values")!.kv.params?.["mergeParts"], "values");
  assert.equal(configs.find((c) => c.label === "d2o 1:1 values −sinks")!.kv.sinks, 0);
});

Deno.test("profileConfigs() rejects a bad policy or budget, naming the flag", () => {
  assert.throws(
    () => profileConfigs(["fast"], ["0.2"], {}),
    (e: unknown) =>
      e instanceof UsageError && e.message.includes("--kv") && e.message.includes('"fast"'),
  );
  assert.throws(
    () => profileConfigs(["h2o"], ["1.5"], {}),
    (e: unknown) => e instanceof UsageError && e.message.includes("--kv-budget"),
  );
});
