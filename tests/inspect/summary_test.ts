import assert from "node:assert/strict";
import { resolveKvOptions } from "../../src/kv/options.ts";
import { percent, summarizeInspect } from "../../src/inspect/summary.ts";
import { syntheticReport } from "./_synthetic_report.ts";

Deno.test("summarizeInspect() names the model, the policy's options, the tokens and the KV share", () => {
  const base = syntheticReport({ nLayer: 2, nHeadKv: 4, promptLength: 50, generated: 7 });
  const report = {
    ...base,
    kv: resolveKvOptions({ kv: "h2o", kvBudget: "64", sinks: 2, skipLayers: "0" }),
    memory: {
      kvBytes: 3 * 1024,
      kvLiveBytes: 1536,
      fullKvBytes: 12 * 1024,
      kvTypes: { k: "f16", v: "f16" },
    } as const,
  };
  assert.deepEqual(summarizeInspect(report), [
    { label: "model", value: "synthetic (synthetic.gguf), 2 layers × 4 KV heads" },
    {
      label: "policy",
      value:
        "h2o: budget 64 tokens per layer, floor 128 tokens, 2 sinks, recent ratio 0.5, skip layers 0",
    },
    { label: "tokens", value: "prompt 50, generated 7" },
    {
      label: "KV memory",
      value: "3.0 KiB of 12.0 KiB full (25.0%); live 1.5 KiB (12.5%); f16 cache",
    },
  ]);
});

Deno.test("summarizeInspect() lists d2o's options and says full does not compress", () => {
  const report = syntheticReport();
  const d2o = summarizeInspect({ ...report, kv: resolveKvOptions({ parity: true }) })[1]!.value;
  assert.equal(
    d2o,
    "d2o: budget 0.2 of the prompt, floor 1 tokens, 4 sinks, recent ratio 0.5, β 0.5, code merge rule, head-minmax statistic, head-mean merge decision, code allocation, selection per query head, compressed at the first decode step, parity",
  );
  const full = summarizeInspect({ ...report, kv: resolveKvOptions({ kv: "full" }) })[1]!.value;
  assert.equal(full, "full (no compression)");
});

Deno.test("summarizeInspect() does not compare the full policy's whole-context allocation with its tokens", () => {
  const report = {
    ...syntheticReport(),
    kv: resolveKvOptions({ kv: "full" }),
    // A 2048-token context holding 24 tokens: allocated is 85× what these tokens take.
    memory: {
      kvBytes: 2048 * 40,
      kvLiveBytes: 24 * 40,
      fullKvBytes: 24 * 40,
      kvTypes: { k: "f16", v: "f32" },
    } as const,
  };
  const line = summarizeInspect(report)[3]!.value;
  assert.equal(
    line,
    "80.0 KiB allocated for the whole context (uncompressed); live 0.9 KiB (100.0% of full); " +
      "K f16, V f32 cache",
  );
  assert.doesNotMatch(line, /8533|\d{4}\.\d%/);
});

Deno.test("percent() gives one decimal, and a dash for an empty whole", () => {
  assert.equal(percent(1, 3), "33.3%");
  assert.equal(percent(5, 0), "–");
});
