import assert from "node:assert/strict";
import { CSV_COLUMNS, formatBytes, formatReport } from "../../src/profile/report.ts";
import type { ProfileReport } from "../../src/profile/run.ts";

const memory = {
  weightBytes: 1_000_000,
  scratchBytes: 200_000,
  kvAllocatedBytes: 40_960,
  kvLiveBytes: 20_480,
  kvFullBytes: 81_920,
  layers: [{ allocatedBytes: 20_480, liveBytes: 10_240 }, {
    allocatedBytes: 20_480,
    liveBytes: 10_240,
  }],
};

const REPORT: ProfileReport = {
  model: { path: "m.gguf", name: "m", arch: "llama", nLayer: 2, nCtxTrain: 512 },
  adapter: "test adapter",
  timestamps: true,
  nCtx: 64,
  kvTypes: { k: "f16", v: "f16" },
  reps: 3,
  rows: [
    {
      kind: "speed",
      kv: "d2o",
      budget: "0.25",
      test: "tg16 @ d32",
      speedTest: { nPrompt: 0, nGen: 16, depth: 32 },
      speed: {
        reps: 3,
        tokensPerSecond: { mean: 100, std: 2.5 },
        msPerToken: { median: 10, p90: 12.5 },
        runMs: [160, 158, 162],
      },
      kernels: [{ name: "attention", ms: 0.75 }, { name: "lm_head", ms: 0.25 }],
      memory,
    },
    {
      kind: "quality",
      kv: "d2o",
      budget: "0.25",
      test: "story, part 1.txt",
      text: { tokens: 100, prefix: 50 },
      quality: { scored: 50, meanNll: 1, perplexity: Math.E, meanKl: 0.125, sameTop: 0.9 },
      memory,
    },
    { kind: "speed", kv: "h2o", budget: "0.25", test: "tg16 @ d32", error: "Cannot use --kv h2o" },
  ],
};

Deno.test("formatReport() md: a speed table and a quality table with the figures", () => {
  const md = formatReport(REPORT, "md", { perLayer: true, kernels: true });
  const lines = md.split("\n");
  const tables = md.split("\n\n").filter((t) => t.startsWith("|"));
  assert.equal(tables.length, 4, "speed, quality, per-layer and per-step tables");
  assert.match(lines[0]!, /^\| model \| kv +\| budget \| test +\| +t\/s \|/);
  assert.match(
    md,
    /\| m +\| d2o +\| 0\.25 +\| tg16 @ d32 +\| 100\.00 ± 2\.50 \| +10\.000 \| +12\.500 \|/,
  );
  assert.match(md, /\| 2\.718282 \| 0\.125000 \| +90\.00% \|/);
  assert.match(md, /\| +25\.0% \|/, "KV live is 25% of the full cache's");
  assert.match(md, /\| attention +\| +0\.7500 \| +75\.0% \|/);
  assert.match(md, /- not run: h2o 0\.25 \(tg16 @ d32\): Cannot use --kv h2o/);
  assert.match(md, /- test adapter; context 64; KV cache f16; 3 timed runs after a warm-up/);
  for (const table of tables) {
    const widths = table.split("\n").filter((l) => l !== "").map((l) => l.length);
    assert.ok(widths.every((w) => w === widths[0]), "every line of a table has the same width");
  }
});

Deno.test("formatReport() csv: one header and one line per row with the raw figures", () => {
  const lines = formatReport(REPORT, "csv").trimEnd().split("\n");
  assert.equal(lines[0], CSV_COLUMNS.join(","));
  assert.equal(lines.length, 1 + REPORT.rows.length);
  const speed = lines[1]!.split(",");
  assert.equal(speed.length, CSV_COLUMNS.length);
  assert.equal(speed[CSV_COLUMNS.indexOf("tps_mean")], "100");
  assert.equal(speed[CSV_COLUMNS.indexOf("n_depth")], "32");
  assert.ok(lines[2]!.includes('"story, part 1.txt"'), "a comma in a cell is quoted");
  assert.ok(lines[3]!.endsWith(",Cannot use --kv h2o"));
});

Deno.test("formatReport() json and jsonl carry every row", () => {
  const json = JSON.parse(formatReport(REPORT, "json"));
  assert.deepEqual(json, JSON.parse(JSON.stringify(REPORT)));
  const lines = formatReport(REPORT, "jsonl").trimEnd().split("\n").map((l) => JSON.parse(l));
  assert.equal(lines.length, 3);
  assert.equal(lines[0].model, "m");
  assert.deepEqual(
    lines[0].kvTypes,
    { k: "f16", v: "f16" },
    "every line says what the KV bytes count",
  );
  assert.equal(lines[1].quality.perplexity, Math.E);
  assert.equal(lines[2].error, "Cannot use --kv h2o");
});

Deno.test("formatBytes() picks KiB, MiB or GiB", () => {
  assert.equal(formatBytes(655360), "640.0 KiB");
  assert.equal(formatBytes(1.5 * 2 ** 20), "1.50 MiB");
  assert.equal(formatBytes(3 * 2 ** 30), "3.00 GiB");
});
