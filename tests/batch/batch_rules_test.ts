/**
 * `generate --prompts` keeps the rules of one prompt, as a user runs it: a
 * prompt that cannot run gets its own error line while the others run (exit
 * code: the first failed prompt's class), `n_predict 0` runs the prompt alone
 * as `-n 0` does, every stop reason equals the lone run's, and a closed
 * stdout ends the batch at once.
 */

import assert from "node:assert/strict";
import { ensureFixtures } from "../../fixtures/make_fixtures.ts";
import { gpuTestOptions } from "../_gpu.ts";
import { D2O_RUN, runD2o, sharedModel } from "../cli/_run.ts";
import { withPrompts } from "./_prompts.ts";

const STORIES = sharedModel("stories260K.gguf");
const FIXTURE = (await ensureFixtures()).get("llama-q8_0")!;

interface Line {
  id: string | number;
  stopReason: string;
  tokens?: number[];
  text?: string;
  error?: string;
  exitCode?: number;
  promptTokens: number;
  kvBytes?: number;
}

function parseLines(stdout: string): Line[] {
  return stdout.trim().split("\n").map((l) => JSON.parse(l) as Line);
}

const STORY = "Once upon a time there was a little girl who liked to play.";

Deno.test({
  name: "generate --prompts: a prompt that cannot run gets its error line, the others run, exit 6",
  ...gpuTestOptions,
  async fn() {
    const entries = [
      { id: "a", prompt: "Once upon a time", n_predict: 3 },
      { id: "long", prompt: `${STORY} ${STORY} ${STORY}`, n_predict: 3 },
      { id: "c", prompt: "The cat", n_predict: 2 },
    ];
    await withPrompts(entries, async (file) => {
      const flags = ["--prompts", file, "-np", "2", "--temp", "0"];
      // Too long for -c 32 (and checked before anything runs: its line comes first).
      const r = await runD2o(["generate", "-m", STORIES, ...flags, "-c", "32"]);
      assert.equal(r.code, 6, r.stderr);
      const lines = parseLines(r.stdout);
      assert.deepEqual(lines.map((l) => l.id), ["long", "c", "a"]);
      const failed = lines[0]!;
      assert.equal(failed.stopReason, "error");
      assert.equal(failed.exitCode, 6);
      assert.match(failed.error!, /^Cannot run prompt "long" of \d+ tokens in a context of 32: /);
      for (const l of lines.slice(1)) assert.equal(l.stopReason, "max_tokens", l.error);
      const err = r.stderr.trim().split("\n");
      assert.equal(err.length, 1, r.stderr);
      assert.match(
        err[0]!,
        /^d2o: 1 of 3 prompts could not run \(each has its error line; the others ran\); the first: Cannot run prompt "long"/,
      );
      // A cap the long prompt's f32 cache (half its 49 tokens in each of 5 layers) can never fit
      // in; the short ones' can.
      const capped = await runD2o([
        "generate",
        "-m",
        STORIES,
        ...flags,
        ...["--kv", "d2o", "--kv-budget", "0.5", "--kv-min", "1", "-c", "64"],
        ...["--kv-memory", "20KiB", "-ctk", "f32", "-ctv", "f32"],
      ]);
      assert.equal(capped.code, 6, capped.stderr);
      const got = parseLines(capped.stdout);
      assert.deepEqual(got.map((l) => [l.id, l.stopReason]).sort(), [
        ["a", "max_tokens"],
        ["c", "max_tokens"],
        ["long", "error"],
      ]);
      assert.match(got.find((l) => l.id === "long")!.error!, /more than --kv-memory's/);
    });
  },
});

Deno.test({
  name: "n_predict 0 and -n 0 run the prompt alone: no token, max_tokens, the prompt's KV cache",
  ...gpuTestOptions,
  async fn() {
    await withPrompts(
      [{ id: "zero", prompt: STORY, n_predict: 0 }, { id: "one", prompt: STORY, n_predict: 1 }],
      async (file) => {
        const r = await runD2o(["generate", "-m", STORIES, "--prompts", file, "--temp", "0"]);
        assert.equal(r.code, 0, r.stderr);
        const zero = parseLines(r.stdout).find((l) => l.id === "zero")!;
        assert.deepEqual(zero.tokens, []);
        assert.equal(zero.text, "");
        assert.equal(zero.stopReason, "max_tokens");
        assert.ok(zero.kvBytes! > 0, "the prompt ran into its cache");
      },
    );
    const alone = await runD2o(["generate", "-m", STORIES, "--json", "-n", "0", STORY]);
    assert.equal(alone.code, 0, alone.stderr);
    const result = JSON.parse(alone.stdout);
    assert.deepEqual(result.tokens, []);
    assert.equal(result.stopReason, "max_tokens");
    // Every prompt position is in the cache: the prompt was evaluated.
    const perToken = result.memory.kvCacheFull / result.promptTokens.length;
    assert.ok(Number.isInteger(perToken) && perToken > 0, JSON.stringify(result.memory));
    assert.ok(result.timings.promptMs > 0);
  },
});

Deno.test({
  name:
    "a batch prompt ends with the lone run's stop reason: eos, stop_string, max_tokens, context_full",
  ...gpuTestOptions,
  async fn() {
    // The random fixture at temperature 1 without top-k/top-p/min-p: seed 2 samples its
    // end-of-generation token at the 87th token, seed 4 none before the context is full.
    const sampler = ["--top-k", "0", "--top-p", "1", "--min-p", "0", "-c", "128"];
    const base = { prompt: "Once upon a time", temp: 1 };
    const entries: { id: string; seed: number; n_predict: number; stop?: string[] }[] = [
      { id: "eos", ...base, seed: 2, n_predict: -1 },
      { id: "stop_string", ...base, seed: 2, n_predict: 60, stop: [" sun"] },
      { id: "max_tokens", ...base, seed: 2, n_predict: 12 },
      { id: "context_full", ...base, seed: 4, n_predict: -1 },
    ];
    await withPrompts(entries, async (file) => {
      const r = await runD2o([
        "generate",
        "-m",
        FIXTURE,
        "--prompts",
        file,
        "-np",
        "4",
        ...sampler,
      ]);
      assert.equal(r.code, 0, r.stderr);
      const lines = parseLines(r.stdout);
      for (const e of entries) {
        const args = ["generate", "-m", FIXTURE, "--json", ...sampler, "--temp", "1"];
        args.push("--seed", String(e.seed), "-n", String(e.n_predict));
        for (const s of e.stop ?? []) args.push("--stop", s);
        const alone = await runD2o([...args, base.prompt]);
        assert.equal(alone.code, 0, alone.stderr);
        const want = JSON.parse(alone.stdout);
        const got = lines.find((l) => l.id === e.id)!;
        assert.equal(want.stopReason, e.id, "the lone run ends as the case says");
        assert.equal(got.stopReason, want.stopReason, `${e.id}: stop reason`);
        assert.deepEqual(got.tokens, want.tokens, `${e.id}: tokens`);
      }
    });
  },
});

Deno.test({
  name: "generate --prompts | head -n 1: the batch ends at once when stdout's reader goes, exit 0",
  ...gpuTestOptions,
  async fn() {
    // The second prompt would run for ever (a d2o cache evicts, so -n 10^9 never fills it).
    const entries = [
      { id: "quick", prompt: "Once upon a time", n_predict: 1 },
      { id: "endless", prompt: "Once upon a time", n_predict: 1_000_000_000 },
    ];
    await withPrompts(entries, async (file) => {
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          ...D2O_RUN,
          "generate",
          "-m",
          STORIES,
          "--prompts",
          file,
          "--kv",
          "d2o",
          "--ignore-eos",
          "-c",
          "256",
        ],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const stderr = child.stderr.pipeThrough(new TextDecoderStream());
      const errText = (async () => {
        let s = "";
        for await (const chunk of stderr) s += chunk;
        return s;
      })();
      // Read the first line, then go away as head does.
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let out = "";
      while (!out.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) break;
        out += value;
      }
      await reader.cancel();
      const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
      const status = await child.status;
      clearTimeout(timer);
      const err = await errText;
      assert.equal(status.signal, null, "it ended by itself");
      assert.equal(status.code, 0, err);
      assert.equal(err, "");
      assert.equal(JSON.parse(out.split("\n")[0]!).id, "quick");
    });
  },
});
