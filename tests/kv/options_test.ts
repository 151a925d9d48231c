import assert from "node:assert/strict";
import { UsageError } from "../../src/errors.ts";
import { parseKvBudget, parseLayerList, resolveKvOptions } from "../../src/kv/options.ts";
import { KV_POLICIES } from "../../src/kv/registry.ts";

Deno.test("resolveKvOptions() defaults to d2o with the method's recommended settings", () => {
  assert.deepEqual(resolveKvOptions(), {
    policy: "d2o",
    budget: { kind: "fraction", value: 0.2 },
    kvMin: 128,
    recentRatio: 0.25,
    sinks: 4,
    skipLayers: null,
    allocation: "exact",
    selectPer: "kv-head",
    compressAt: "prefill",
    parity: false,
    params: {
      d2oBeta: 0.7,
      mergeRule: "paper",
      mergeSelfLogit: 1,
      d2oStat: "head-minmax",
      mergeDecision: "token",
      mergeParts: "kv",
    },
  });
});

Deno.test("resolveKvOptions() fills per-policy defaults for h2o and streaming", () => {
  const h2o = resolveKvOptions({ kv: "h2o" });
  assert.equal(h2o.sinks, 0);
  assert.equal(h2o.recentRatio, 0.5);
  const streaming = resolveKvOptions({ kv: "streaming" });
  assert.equal(streaming.sinks, 4);
  assert.equal(streaming.recentRatio, 1);
});

Deno.test("resolveKvOptions() with --parity switches only the defaults not given", () => {
  assert.equal(resolveKvOptions({ parity: true }).params?.["mergeRule"], "code");
  assert.equal(
    resolveKvOptions({ parity: true, params: { mergeRule: "paper" } }).params?.["mergeRule"],
    "paper",
  );
  assert.equal(resolveKvOptions({ parity: true, selectPer: "kv-head" }).selectPer, "kv-head");
  assert.equal(resolveKvOptions({ parity: true, kvMin: 64 }).kvMin, 64);
});

Deno.test("resolveKvOptions() with --parity gives d2o the authors' shipped configuration", () => {
  const o = resolveKvOptions({ parity: true });
  const p = o.params!;
  assert.deepEqual(
    [o.kvMin, o.recentRatio, p["d2oBeta"], p["mergeRule"], p["mergeDecision"], o.allocation],
    [1, 0.5, 0.5, "code", "head-mean", "code"],
  );
  assert.deepEqual([o.selectPer, o.compressAt, o.sinks, p["mergeParts"]], [
    "query-head",
    "first-decode",
    4,
    "kv",
  ]);
});

Deno.test("resolveKvOptions() keeps only the chosen policy's own flags in params", () => {
  const input = { params: { snapWindow: "8", mergeRule: "code" } };
  assert.equal(resolveKvOptions({ kv: "h2o", ...input }).params, undefined);
  assert.deepEqual(resolveKvOptions({ kv: "snapkv", ...input }).params, {
    snapWindow: 8,
    snapPool: 7,
    kvDecode: "grow",
  });
  assert.equal(resolveKvOptions({ kv: "d2o", ...input }).params?.["mergeRule"], "code");
});

Deno.test("resolveKvOptions() with --parity gives h2o real_drop's and leaves streaming's split", () => {
  const h2o = resolveKvOptions({ kv: "h2o", parity: true });
  assert.deepEqual(
    [h2o.kvMin, h2o.recentRatio, h2o.sinks, h2o.allocation, h2o.selectPer, h2o.compressAt],
    [1, 0.5, 0, "code", "query-head", "prefill"],
  );
  const streaming = resolveKvOptions({ kv: "streaming", parity: true });
  assert.deepEqual([streaming.recentRatio, streaming.sinks, streaming.selectPer], [
    1,
    4,
    "kv-head",
  ]);
});

Deno.test("resolveKvOptions() with --parity takes each registry row's own defaults", () => {
  for (const entry of KV_POLICIES) {
    const o = resolveKvOptions({ kv: entry.name, parity: true });
    const plain = resolveKvOptions({ kv: entry.name });
    for (const [key, value] of Object.entries(entry.parity.options)) {
      assert.equal(o[key as keyof typeof o], value, `${entry.name} ${key}`);
    }
    for (const [key, value] of Object.entries(entry.parity.params ?? {})) {
      assert.equal(o.params?.[key], value, `${entry.name} ${key}`);
      assert.notEqual(plain.params?.[key], value, `${entry.name} ${key} differs without --parity`);
    }
  }
});

Deno.test("resolveKvOptions() names the new switches in its errors", () => {
  for (
    const [input, flag] of [
      [{ selectPer: "layer" }, "--select-per"],
      [{ compressAt: "later" }, "--compress-at"],
      [{ params: { mergeDecision: "vote" } }, "--merge-decision"],
      [{ params: { mergeParts: "keys" } }, "--merge-parts"],
      [{ kvAlloc: "fair" }, "--kv-alloc"],
    ] as const
  ) {
    assert.throws(() => resolveKvOptions(input), UsageError, flag);
  }
});

Deno.test("resolveKvOptions() parses command-line strings", () => {
  const o = resolveKvOptions({
    kv: "d2o",
    kvBudget: "256",
    kvMin: "32",
    recentRatio: "0.4",
    sinks: "2",
    skipLayers: "3,0",
    params: { d2oBeta: "0.5", mergeRule: "code", mergeSelfLogit: "0", d2oStat: "raw" },
  });
  assert.deepEqual(o.budget, { kind: "tokens", value: 256 });
  assert.deepEqual([o.kvMin, o.recentRatio, o.sinks], [32, 0.4, 2]);
  assert.deepEqual(o.params, {
    d2oBeta: 0.5,
    mergeRule: "code",
    mergeSelfLogit: 0,
    d2oStat: "raw",
    mergeDecision: "token",
    mergeParts: "kv",
  });
  assert.deepEqual(o.skipLayers, [0, 3]);
});

Deno.test("parseKvBudget() takes a fraction in (0, 1] or a whole count above 1", () => {
  assert.deepEqual(parseKvBudget("1"), { kind: "fraction", value: 1 });
  assert.deepEqual(parseKvBudget(0.05), { kind: "fraction", value: 0.05 });
  assert.deepEqual(parseKvBudget("2"), { kind: "tokens", value: 2 });
  for (const bad of ["0", "-0.5", "1.5", "abc", "", "1e400"]) {
    assert.throws(
      () => parseKvBudget(bad),
      (e) =>
        e instanceof UsageError && e.message.includes(`--kv-budget "${bad}"`) &&
        e.message.includes("0 < x ≤ 1"),
      bad,
    );
  }
});

Deno.test("resolveKvOptions() rejects bad values naming the flag and the valid range", () => {
  const cases: [Parameters<typeof resolveKvOptions>[0], string][] = [
    [{ kv: "lru" }, '--kv "lru": expected one of full, streaming, h2o, d2o'],
    [{ kvMin: "0" }, '--kv-min "0": expected a whole number ≥ 1'],
    [{ kvMin: 2.5 }, '--kv-min "2.5"'],
    [{ recentRatio: "1.2" }, '--recent-ratio "1.2": expected a number from 0 to 1'],
    [{ sinks: "-1" }, '--sinks "-1": expected a whole number ≥ 0'],
    [{ params: { d2oBeta: "x" } }, '--d2o-beta "x": expected a number from 0 to 1'],
    [{ params: { mergeRule: "mean" } }, '--merge-rule "mean": expected one of paper, code'],
    [{ params: { d2oStat: "var" } }, '--d2o-stat "var": expected one of head-minmax, raw'],
    // A policy's flag is validated whichever policy runs.
    [{ kv: "h2o", params: { d2oBeta: "2" } }, '--d2o-beta "2": expected a number from 0 to 1'],
    [{ kv: "d2o", params: { snapPool: "4" } }, '--snap-pool "4": expected an odd whole number'],
    [{ skipLayers: "0,a" }, '--skip-layers "a": expected a whole number ≥ 0'],
  ];
  for (const [input, message] of cases) {
    assert.throws(
      () => resolveKvOptions(input),
      (e) => e instanceof UsageError && e.exitCode === 2 && e.message.includes(message),
      message,
    );
  }
});

Deno.test("parseLayerList() sorts and deduplicates, and an empty list means none", () => {
  assert.deepEqual(parseLayerList(" 4,1, 1 ,0"), [0, 1, 4]);
  assert.deepEqual(parseLayerList(""), []);
  assert.deepEqual(parseLayerList([2, 2, 1]), [1, 2]);
});
