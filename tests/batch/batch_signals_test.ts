/**
 * Stop signals in `generate --prompts`, as a user sends them to a real child
 * process: SIGINT, SIGTERM and SIGHUP each give every running prompt its
 * line (interrupted), every queued one its line (not started), then the
 * summary counting finished, interrupted and never-started prompts apart, and
 * the signal's exit code; a signal during a long prompt stops it between two
 * of its submissions.
 */

import assert from "node:assert/strict";
import { gpuTestOptions } from "../_gpu.ts";
import { sharedModel, signalled } from "../cli/_run.ts";
import { withPrompts } from "./_prompts.ts";

const STORIES = sharedModel("stories260K.gguf");

/** The stop signals and the exit code each one ends a run with (128 + its number). */
const SIGNALS = [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]] as const;

interface Line {
  id: string;
  stopReason: string;
  tokens?: number[];
  promptTokens: number;
}

/** Endless prompts: a d2o cache evicts, so -n 10^9 never fills the context. */
const endless = (id: string) => ({ id, prompt: "Once upon a time", n_predict: 1_000_000_000 });

for (const [signal, code] of SIGNALS) {
  Deno.test({
    name:
      `generate --prompts -np 3: ${signal} gives every running and queued prompt its line, exit ${code}`,
    ...gpuTestOptions,
    async fn() {
      // p0 and p1 run for ever; "quick" ends at its first token, and p2 takes its slot at once.
      const entries = [
        endless("p0"),
        endless("p1"),
        { id: "quick", prompt: "Once upon a time", n_predict: 1 },
        endless("p2"),
        endless("p3"),
        endless("p4"),
      ];
      await withPrompts(entries, async (file) => {
        const r = await signalled(
          [
            ...["generate", "-m", STORIES, "--prompts", file, "-np", "3"],
            ...["--kv", "d2o", "--ignore-eos", "-c", "256", "--temp", "0"],
          ],
          (out) => out.includes("\n"),
          [signal],
        );
        assert.equal(r.code, code, r.err);
        const lines = r.out.trim().split("\n").map((l) => JSON.parse(l) as Line);
        assert.deepEqual(lines.map((l) => l.id).sort(), entries.map((e) => e.id).sort());
        const state = Object.fromEntries(lines.map((l) => [l.id, l.stopReason]));
        assert.deepEqual(state, {
          quick: "max_tokens",
          p0: "interrupted",
          p1: "interrupted",
          p2: "interrupted",
          p3: "not_started",
          p4: "not_started",
        });
        assert.ok(lines.find((l) => l.id === "p0")!.tokens!.length > 0);
        for (const l of lines.filter((l) => l.stopReason === "not_started")) {
          assert.deepEqual(Object.keys(l), ["id", "stopReason", "promptTokens"]);
        }
        assert.equal(
          r.err.trim(),
          `d2o: interrupted by ${signal} with 1 of 6 prompts finished, 3 interrupted and 2 not started`,
        );
      });
    },
  });
}

Deno.test({
  name: "generate --prompts: a signal during a long prompt stops it between submissions",
  ...gpuTestOptions,
  async fn() {
    const story = "Once upon a time there was a little girl who liked to play. ";
    const entries = [
      { id: "long", prompt: story.repeat(100), n_predict: 4 }, // 1,902 tokens
      { id: "next", prompt: "Once upon a time", n_predict: 4 },
    ];
    await withPrompts(entries, async (file) => {
      // --verbose off a terminal: a progress line every 2 s of a long prompt.
      const r = await signalled(
        ["generate", "-m", STORIES, "--prompts", file, "-c", "2048", "-b", "16", "--verbose"],
        (_, err) => /d2o: prompt "long" \d+\/1902 tokens/.test(err),
        ["SIGINT"],
      );
      assert.equal(r.code, 130, r.err);
      const lines = r.out.trim().split("\n").map((l) => JSON.parse(l) as Line);
      assert.deepEqual(lines.map((l) => [l.id, l.stopReason]), [
        ["long", "interrupted"],
        ["next", "not_started"],
      ]);
      assert.deepEqual(lines[0]!.tokens, []);
      assert.match(
        r.err.trim().split("\n").at(-1)!,
        /^d2o: interrupted by SIGINT with 0 of 2 prompts finished, 1 interrupted and 1 not started$/,
      );
    });
  },
});
