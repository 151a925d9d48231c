import assert from "node:assert/strict";
import { runD2o, sharedModel } from "./_run.ts";

const STORIES = sharedModel("stories260K.gguf");
const PROMPT = "Once upon a time, there was a little girl named Lily. She loved to play outside " +
  "in the park with her dog Max. One day, Lily and Max found a big red ball under a tree.";

async function inspect(args: string[]) {
  const r = await runD2o(["compress-inspect", "-m", STORIES, PROMPT, "--kv-min", "8", ...args]);
  assert.equal(r.code, 0, r.stderr);
  return r;
}

Deno.test("compress-inspect --json accounts for every token of every layer and head exactly once", async () => {
  const { stdout } = await inspect(["--json", "--generate", "12"]);
  const report = JSON.parse(stdout);
  assert.equal(report.version, 1);
  assert.equal(report.kv.policy, "d2o");
  const T = report.promptLength;
  assert.equal(report.tokens.ids.length, T + 12);
  assert.equal(report.plan.length, 5);
  const total = report.plan.reduce((s: number, l: { slots: number }) => s + l.slots, 0);
  assert.equal(total, Math.round(5 * 0.2 * T), "exact budget");
  for (const layer of report.layers) {
    assert.ok(layer.tau.length > 0, "d2o sets τ");
    for (const head of layer.heads) {
      const seen = [
        ...head.kept,
        ...head.merged.map((m: { pos: number }) => m.pos),
        ...head.evicted.map((e: { pos: number }) => e.pos),
      ].sort((a, b) => a - b);
      // Every fed position (prompt and generated) is kept, merged or evicted once.
      assert.deepEqual(seen, Array.from({ length: T + 12 }, (_, i) => i), `layer ${layer.layer}`);
      assert.equal(head.kept.length, report.plan[layer.layer].slots);
      for (let s = 0; s < report.plan[layer.layer].sinks; s++) assert.ok(head.kept.includes(s));
      for (const m of head.merged) {
        assert.ok(m.into !== m.pos && m.similarity >= -1 && m.similarity <= 1);
      }
    }
  }
  assert.ok(report.memory.kvBytes < report.memory.fullKvBytes);
});

Deno.test("compress-inspect shows budgets, outcomes and the token view; --html writes one page", async () => {
  const html = await Deno.makeTempFile({ suffix: ".html" });
  try {
    const { stdout } = await inspect([
      "--generate",
      "4",
      "--layers",
      "1",
      "--heads",
      "0",
      "--html",
      html,
    ]);
    assert.match(stdout, /Layer budgets/);
    assert.match(stdout, /layer 1 · KV head 0/);
    assert.ok(!stdout.includes("\u001b["), "no colours when stdout is not a terminal");
    const page = await Deno.readTextFile(html);
    assert.match(page, /^<!DOCTYPE html>/i);
    assert.doesNotMatch(page, /https?:\/\//);
  } finally {
    await Deno.remove(html);
  }
});

Deno.test("compress-inspect with streaming keeps sinks and the window, and never merges", async () => {
  const { stdout } = await inspect(["--json", "--kv", "streaming"]);
  const report = JSON.parse(stdout);
  for (const layer of report.layers) {
    assert.equal(layer.mergedCount, 0);
    assert.deepEqual(layer.tau, []);
    const T = report.promptLength;
    const C = report.plan[layer.layer].slots;
    for (const head of layer.heads) {
      assert.deepEqual(head.kept, [
        ...Array.from({ length: 4 }, (_, i) => i),
        ...Array.from({ length: C - 4 }, (_, i) => T - (C - 4) + i),
      ]);
    }
  }
});

Deno.test("compress-inspect rejects a layer the model does not have, exit 2", async () => {
  const r = await runD2o(["compress-inspect", "-m", STORIES, PROMPT, "--layers", "9"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--layers 9/);
});

Deno.test("compress-inspect with no recent window accounts for every position once, and writes --html", async () => {
  const short = "Once upon a time there was";
  const configs = [
    ["--kv-min", "4"],
    ["--kv", "d2o", "--recent-ratio", "0", "--kv-budget", "6"],
    ["--kv", "h2o", "--recent-ratio", "0", "--kv-budget", "6"],
    ["--kv", "streaming", "--kv-budget", "4"],
    ["--kv", "streaming", "--kv-budget", "3"],
  ];
  const dir = await Deno.makeTempDir();
  try {
    for (const flags of configs) {
      const html = `${dir}/page.html`;
      const r = await runD2o([
        "compress-inspect",
        "-m",
        STORIES,
        short,
        "--generate",
        "8",
        "--json",
        "--html",
        html,
        ...flags,
      ]);
      assert.equal(r.code, 0, `${flags.join(" ")}: ${r.stderr}`);
      const report = JSON.parse(r.stdout);
      const n = report.tokens.ids.length;
      for (const layer of report.layers) {
        for (const head of layer.heads) {
          const seen = [
            ...head.kept,
            ...head.merged.map((m: { pos: number }) => m.pos),
            ...head.evicted.map((e: { pos: number }) => e.pos),
          ].sort((a, b) => a - b);
          assert.deepEqual(seen, Array.from({ length: n }, (_, i) => i), flags.join(" "));
        }
      }
      assert.match(await Deno.readTextFile(html), /<svg/);
      await Deno.remove(html);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("compress-inspect refuses --compress-at first-decode (and --parity, which sets it) with exit 2, and takes --parity --compress-at prefill", async () => {
  for (const flags of [["--compress-at", "first-decode"], ["--parity"]]) {
    const r = await runD2o(["compress-inspect", "-m", STORIES, PROMPT, ...flags]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^d2o: Cannot inspect --compress-at first-decode/);
  }
  const { stdout } = await inspect(["--parity", "--compress-at", "prefill", "--json"]);
  const report = JSON.parse(stdout);
  assert.equal(report.kv.selectPer, "query-head");
  assert.equal(report.kv.parity, true);
  // Per query head: the cache (and the report) holds n_head = 8 heads, each accounting for every token.
  assert.equal(report.model.nHeadKv, 8);
  for (const layer of report.layers) {
    assert.equal(layer.heads.length, 8);
    for (const head of layer.heads) {
      const seen = [...head.kept, ...head.merged.map((m: { pos: number }) => m.pos)]
        .concat(head.evicted.map((e: { pos: number }) => e.pos));
      assert.equal(
        new Set(seen).size,
        report.promptLength,
        `layer ${layer.layer} head ${head.head}`,
      );
    }
  }
});
