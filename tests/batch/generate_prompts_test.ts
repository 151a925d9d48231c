/**
 * `generate --prompts FILE -np N` end to end, as a user runs it: every
 * prompt's tokens and text equal a lone `generate --json` run of that prompt
 * (per-prompt n_predict, temperature and seed; stop strings), results come
 * in finishing order, `--kv-memory` holding one sequence runs them one after
 * another in one slot, and bad input gets one `d2o:` line and its exit code.
 */

import assert from "node:assert/strict";
import { runD2o } from "../cli/_run.ts";
import { gpuTestOptions } from "../_gpu.ts";

const STORIES = new URL("../../../shared/models/stories260K.gguf", import.meta.url).pathname;
const TEXT = await Deno.readTextFile(
  new URL("../../../shared/oracle/ppl-text.txt", import.meta.url),
);
const words = TEXT.split(/\s+/);
const PROMPTS = [
  { id: "long", prompt: words.slice(0, 55).join(" "), n_predict: 14 },
  { id: "short", prompt: words.slice(70, 110).join(" "), n_predict: 4 },
  { id: 3, prompt: words.slice(100, 140).join(" "), n_predict: 9, temp: 0.9, seed: 11 },
  { id: "stop", prompt: words.slice(150, 190).join(" "), n_predict: 30, stop: ["."] },
];
const KV = ["--kv", "d2o", "--kv-budget", "0.3", "--kv-min", "4", "-c", "256"];

interface Line {
  id: string | number;
  text: string;
  tokens: number[];
  stopReason: string;
  slot: number;
  kvBytes: number;
}

async function batch(file: string, ...flags: string[]): Promise<Line[]> {
  const r = await runD2o([
    "generate",
    "-m",
    STORIES,
    "--prompts",
    file,
    "--temp",
    "0",
    ...KV,
    ...flags,
  ]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim().split("\n").map((l) => JSON.parse(l) as Line);
}

async function promptsFile(): Promise<string> {
  const file = await Deno.makeTempFile({ suffix: ".jsonl" });
  await Deno.writeTextFile(file, PROMPTS.map((p) => JSON.stringify(p)).join("\n") + "\n");
  return file;
}

Deno.test({
  name: "generate --prompts -np 2 gives every prompt what a lone generate gives it",
  ...gpuTestOptions,
  async fn() {
    const file = await promptsFile();
    try {
      const lines = await batch(file, "-np", "2");
      assert.deepEqual(lines.map((l) => l.id).sort(), PROMPTS.map((p) => p.id).sort());
      assert.deepEqual(new Set(lines.map((l) => l.slot)), new Set([0, 1]), "both slots used");
      // "short" (4 tokens) ends before "long" (14) though it started after it.
      assert.ok(lines.findIndex((l) => l.id === "short") < lines.findIndex((l) => l.id === "long"));
      for (const p of PROMPTS) {
        const args = ["generate", "-m", STORIES, "--json", ...KV, "-n", String(p.n_predict)];
        args.push("--temp", String(p.temp ?? 0), "--seed", String(p.seed ?? 0));
        for (const s of p.stop ?? []) args.push("--stop", s);
        const alone = await runD2o([...args, p.prompt]);
        assert.equal(alone.code, 0, alone.stderr);
        const want = JSON.parse(alone.stdout);
        const got = lines.find((l) => l.id === p.id)!;
        assert.deepEqual(got.tokens, want.tokens, `${p.id}: tokens`);
        assert.equal(got.text, want.text, `${p.id}: text`);
        assert.equal(got.stopReason, want.stopReason, `${p.id}: stop reason`);
      }
    } finally {
      await Deno.remove(file);
    }
  },
});

Deno.test({
  name: "generate --prompts --kv-memory holding one sequence runs the prompts one at a time",
  ...gpuTestOptions,
  async fn() {
    const file = await promptsFile();
    try {
      const free = await batch(file, "-np", "4", "--seed", "0");
      // Room for the largest cache, not for two of the smallest (the prompts are of similar lengths).
      const sizes = free.map((l) => l.kvBytes);
      const cap = Math.floor(1.05 * Math.max(...sizes));
      assert.ok(cap < 2 * Math.min(...sizes), "the cap holds one sequence");
      const capped = await batch(file, "-np", "4", "--seed", "0", "--kv-memory", String(cap));
      assert.deepEqual(capped.map((l) => l.id), PROMPTS.map((p) => p.id), "in queue order");
      assert.deepEqual(capped.map((l) => l.slot), [0, 0, 0, 0], "one slot at a time");
      for (const l of capped) {
        assert.deepEqual(l.tokens, free.find((f) => f.id === l.id)!.tokens, `${l.id}: tokens`);
      }
    } finally {
      await Deno.remove(file);
    }
  },
});

Deno.test({
  name: "generate --prompts refuses bad input with one line and its exit code",
  ...gpuTestOptions,
  async fn() {
    const file = await Deno.makeTempFile({ suffix: ".jsonl" });
    try {
      await Deno.writeTextFile(file, '{"prompt": "a"}\n{"prompt": 3}\n');
      const cases: [string[], number, RegExp][] = [
        [["--prompts", file], 3, /line 2: "prompt" must be a string/],
        [["--prompts", file, "hello"], 2, /Cannot use --prompts with a prompt argument/],
        [["-np", "2", "hello"], 2, /without --prompts/],
        [["--prompts", file, "--kv-memory", "lots"], 2, /--kv-memory/],
      ];
      for (const [args, code, message] of cases) {
        const r = await runD2o(["generate", "-m", STORIES, ...args]);
        assert.equal(r.code, code, r.stderr);
        assert.match(r.stderr, message);
        assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      }
      await Deno.writeTextFile(file, "Once upon a time\n");
      const small = await runD2o([
        "generate",
        "-m",
        STORIES,
        "--prompts",
        file,
        "--kv-memory",
        "1KiB",
      ]);
      assert.equal(small.code, 6, small.stderr);
      assert.match(small.stderr, /more than --kv-memory/);
    } finally {
      await Deno.remove(file);
    }
  },
});

for (const policy of ["full", "streaming", "h2o", "snapkv", "pyramidkv"]) {
  Deno.test({
    name: `generate --prompts --kv ${policy}: -np 3 gives what -np 1 gives`,
    ...gpuTestOptions,
    async fn() {
      const file = await promptsFile();
      try {
        const flags = ["--kv", policy, "--seed", "0"];
        const one = await batch(file, "-np", "1", ...flags);
        const three = await batch(file, "-np", "3", ...flags);
        assert.deepEqual(one.map((l) => l.slot), [0, 0, 0, 0]);
        assert.ok(three.some((l) => l.slot === 2), "three slots used");
        for (const l of three) {
          assert.deepEqual(l.tokens, one.find((o) => o.id === l.id)!.tokens, `${l.id}: tokens`);
        }
      } finally {
        await Deno.remove(file);
      }
    },
  });
}
