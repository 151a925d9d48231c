/**
 * `d2o profile` end to end on stories260K: the structure of every output
 * format on a small configuration, the oracle perplexity of the full cache
 * over all of ppl-text.txt, and one clear error per bad flag.
 *
 * @module
 */

import assert from "node:assert/strict";
import { gpuTestOptions } from "../_gpu.ts";
import { CSV_COLUMNS } from "../../src/profile/report.ts";
import { D2O_ABLATIONS } from "../../src/profile/configs.ts";
import { KV_POLICY_NAMES } from "../../src/kv/options.ts";
import { runD2o, sharedModel } from "./_run.ts";

const MODEL = sharedModel("stories260K.gguf");
const PPL_TEXT = new URL("../../../shared/oracle/ppl-text.txt", import.meta.url).pathname;
/** Perplexity of all 1,448 predictions of ppl-text.txt (BOS alone as the prompt, f32 KV: pinned with -ctk/-ctv). */
const ORACLE_FULL_TEXT_PPL = 4.464453;

Deno.test({
  name: "d2o profile --prefix 1 gives the oracle perplexity of ppl-text.txt with the full cache",
  ...gpuTestOptions,
  async fn() {
    const r = await runD2o([
      "profile",
      "-m",
      MODEL,
      "--kv",
      "full",
      "-p",
      "16",
      "-n",
      "8",
      "-r",
      "2",
      "--text",
      PPL_TEXT,
      "--prefix",
      "1",
      "-o",
      "json",
      "-ctk",
      "f32",
      "-ctv",
      "f32",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.model.name, "stories260K");
    assert.equal(report.reps, 2);
    assert.deepEqual(report.rows.map((row: { test: string }) => row.test), [
      "pp16",
      "tg8",
      "ppl-text.txt",
    ]);
    const [pp, tg, text] = report.rows;
    for (const row of [pp, tg]) {
      assert.equal(row.speed.runMs.length, 2);
      assert.ok(row.speed.tokensPerSecond.mean > 0);
      assert.ok(row.speed.msPerToken.p90 >= row.speed.msPerToken.median);
      assert.equal(row.memory.kvLiveBytes, row.memory.kvFullBytes);
    }
    assert.equal(
      pp.memory.kvFullBytes,
      16 * 1280,
      "16 tokens × 5 layers × K,V × 4 heads × 8 × f32",
    );
    assert.equal(text.quality.scored, 1448);
    assert.equal(text.quality.perplexity.toFixed(4), ORACLE_FULL_TEXT_PPL.toFixed(4));
    assert.equal(text.quality.meanKl, 0);
    assert.equal(text.quality.sameTop, 1);
  },
});

Deno.test({
  name:
    "d2o profile -o csv gives one line per policy × budget × test, each with figures or an error",
  ...gpuTestOptions,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const text = `${dir}/short.txt`;
      await Deno.writeTextFile(text, (await Deno.readTextFile(PPL_TEXT)).slice(0, 200));
      const r = await runD2o([
        "profile",
        "-m",
        MODEL,
        "--kv-budget",
        "0.5,64",
        "-p",
        "16",
        "-n",
        "8",
        "-d",
        "0,32",
        "-r",
        "1",
        "--text",
        text,
        "-o",
        "csv",
      ]);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trimEnd().split("\n");
      assert.equal(lines[0], CSV_COLUMNS.join(","));
      const rows = lines.slice(1).map((l) =>
        Object.fromEntries(
          l.split(",").map((v, i) => [CSV_COLUMNS[i]!, v]),
        )
      );
      const configs = 1 + (KV_POLICY_NAMES.length - 1) * 2;
      assert.equal(rows.length, configs * 5, "4 speed tests and 1 text per configuration");
      assert.deepEqual(
        [...new Set(rows.map((row) => row.test))],
        ["pp16", "pp16 @ d32", "tg8", "tg8 @ d32", "short.txt"],
      );
      for (const row of rows) {
        const figure = row.kind === "speed" ? row.tps_mean : row.ppl;
        assert.ok(
          (Number(figure) > 0 && row.error === "") || (figure === "" && row.error !== ""),
          `${row.kv} ${row.budget} ${row.test}: figures or an error`,
        );
        if (row.kv === "full") assert.equal(row.error, "");
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "d2o profile prints aligned and markdown tables, per-layer and per-step detail, and jsonl",
  ...gpuTestOptions,
  async fn() {
    const args = ["profile", "-m", MODEL, "--kv", "full", "-p", "8", "-n", "4", "-r", "1"];
    const md = await runD2o([...args, "-o", "md", "--per-layer", "--kernels"]);
    assert.equal(md.code, 0, md.stderr);
    const tables = md.stdout.split("\n\n");
    assert.match(tables[0]!, /^\| model +\| kv +\| budget \| test \| +t\/s \|/);
    assert.match(tables[0]!.split("\n")[1]!, /^\| -+ \| -+ \| -+ \| -+ \| -+: \|/);
    assert.match(tables[0]!, /\| stories260K \| full \| - +\| tg4 +\| +[\d.]+ ± [\d.]+ \|/);
    const layers = tables[1]!.trimEnd().split("\n");
    assert.equal(layers.length, 2 + 2 * 5, "5 layers for each of pp8 and tg4");
    assert.match(tables[2]!, /\| full \| - +\| tg4 +\| attention +\| +[\d.]+ \|/);

    const table = await runD2o([...args]);
    assert.equal(table.code, 0, table.stderr);
    const [head, rule] = table.stdout.split("\n");
    assert.match(head!, /^model +kv +budget +test +t\/s +ms\/token +p90 ms/);
    assert.match(rule!, /^-+ +-+/);

    const jsonl = await runD2o([...args, "-o", "jsonl"]);
    assert.equal(jsonl.code, 0, jsonl.stderr);
    const rows = jsonl.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(rows.map((row) => row.test), ["pp8", "tg4"]);
    assert.ok(
      rows.every((row) => row.model === "stories260K" && row.speed.tokensPerSecond.mean > 0),
    );
  },
});

Deno.test({
  name: "d2o profile --ablate adds one row per d2o ablation and budget",
  ...gpuTestOptions,
  async fn() {
    const r = await runD2o([
      "profile",
      "-m",
      MODEL,
      "--kv",
      "d2o",
      "--ablate",
      "--kv-budget",
      "0.5",
      "-p",
      "8",
      "-n",
      "0",
      "-r",
      "1",
      "-o",
      "jsonl",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const rows = r.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(rows.map((row) => row.kv), ["d2o", ...D2O_ABLATIONS.map((a) => a.label)]);
    for (const row of rows) {
      assert.equal(row.budget, "0.5");
      assert.ok(
        (row.speed === undefined) !== (row.error === undefined),
        `${row.kv}: figures or an error`,
      );
    }
  },
});

Deno.test("d2o profile rejects bad values with one line naming the flag", async () => {
  const cases: [string[], number, RegExp][] = [
    [["--kv", "full,fast"], 2, /--kv "fast"/],
    [["--kv-budget", "0.2,1.5"], 2, /--kv-budget "1\.5"/],
    [["-p", "128,x"], 2, /^d2o: Cannot use -p\/--n-prompt "128,x": .*; see `d2o profile --help`$/],
    [["-r", "0"], 2, /--repetitions/],
    [["-o", "xml"], 2, /--output/],
    [["--d2o-beta", "2"], 2, /--d2o-beta "2"/],
    [["-p", "0", "-n", "0"], 2, /^d2o: Nothing to measure: -p 0 and -n 0 ask for no speed test/],
    [["-c", "10000000"], 6, /^d2o: Cannot use a context of 10000000 tokens: .*; lower -c\/--ctx$/],
    [["--text", "/nonexistent/story.txt"], 3, /--text "\/nonexistent\/story\.txt"/],
  ];
  for (const [flags, code, message] of cases) {
    const r = await runD2o(["profile", "-m", MODEL, ...flags]);
    assert.equal(r.code, code, `${flags.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr.trim(), message);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.equal(r.stdout, "");
  }
});
