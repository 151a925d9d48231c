import assert from "node:assert/strict";
import { ensureFixtures } from "../../fixtures/make_fixtures.ts";
import { runD2o, sharedModel } from "./_run.ts";

const FIXTURE = (await ensureFixtures()).get("llama-q8_0")!; // trained context 512

Deno.test("-c 10000000 is refused up front in our words (exit 6), not by a WebGPU validation error", async () => {
  for (const kv of ["full", "d2o"]) {
    const started = performance.now();
    const r = await runD2o([
      "generate",
      "-m",
      FIXTURE,
      "-c",
      "10000000",
      "--kv",
      kv,
      "-n",
      "2",
      "Once",
    ]);
    assert.equal(r.code, 6, r.stderr);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0]!,
      /^d2o: Cannot use a context of 10000000 tokens: .* at most \d+ .*; lower -c\/--ctx$/,
    );
    assert.doesNotMatch(r.stderr, /WebGPU|validation|binding/i);
    assert.ok(performance.now() - started < 10_000, "refused before the upload");
  }
});

Deno.test("a context past the trained one warns once, up front", async () => {
  const r = await runD2o([
    "generate",
    "-m",
    FIXTURE,
    "-c",
    "600",
    "--temp",
    "0",
    "-n",
    "3",
    "Once",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const warnings = r.stderr.trim().split("\n").filter((l) => /warning/.test(l));
  assert.equal(warnings.length, 1, r.stderr);
  assert.match(warnings[0]!, /a context of 600 tokens is past the model's trained context of 512/);
  const inside = await runD2o([
    "generate",
    "-m",
    FIXTURE,
    "-c",
    "512",
    "--temp",
    "0",
    "-n",
    "3",
    "Once",
  ]);
  assert.equal(inside.stderr, "");
});

Deno.test("a context too long for a kernel's grid is a limit in our words (exit 6), before any output", async () => {
  // Head size 64: the compression kernel fills at most 65535 slots of a layer kept whole.
  const r = await runD2o([
    "generate",
    "-m",
    FIXTURE,
    "-c",
    "100000",
    "--kv",
    "full",
    "-n",
    "2",
    "Once",
  ]);
  assert.equal(r.code, 6, r.stderr);
  assert.equal(r.stdout, "");
  assert.equal(
    r.stderr,
    "d2o: Cannot use a context of 100000 tokens for layers 0-1 kept whole (--kv full keeps " +
      "every layer): the KV compression kernel fills at most 65535 slots per layer at head size " +
      "64, so at most 65535 tokens here; lower -c/--ctx\n",
  );
});

/** stories260K: head size 8, so a layer kept whole takes at most 524280 slots. */
const STORIES = sharedModel("stories260K.gguf");

Deno.test("layers kept whole by --kv full, --skip-layers or --parity are refused before any output", async () => {
  // --parity also selects per query head: twice the KV heads, so its binding allows 524288.
  const cases: [string, string[], RegExp][] = [
    ["600000", ["--kv", "full"], /for layers 0-4 kept whole \(--kv full keeps every layer\)/],
    [
      "600000",
      ["--kv", "d2o", "--skip-layers", "0,4"],
      /for layers 0 and 4 kept whole \(--skip-layers\)/,
    ],
    [
      "524285",
      ["--kv", "d2o", "--parity", "--compress-at", "prefill"],
      /for layers 0, 1 and 4 kept whole \(--parity's default --skip-layers\)/,
    ],
    ["600000", ["--kv", "snapkv"], /for layers 0-4 growing to the context \(snapkv\)/],
  ];
  for (const [ctx, flags, layers] of cases) {
    const r = await runD2o(["generate", "-m", STORIES, "-c", ctx, ...flags, "-n", "2", "Hi"]);
    assert.equal(r.code, 6, `${flags.join(" ")}: ${r.stderr}`);
    assert.equal(r.stdout, "", `${flags.join(" ")}: nothing printed`);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, new RegExp(`^d2o: Cannot use a context of ${ctx} tokens for `));
    assert.match(lines[0]!, layers);
    assert.match(lines[0]!, /at most 524280 tokens here; lower -c\/--ctx$/);
  }
});

Deno.test("compress-inspect, profile and --prompts meet the same limits before any output", async () => {
  const file = await Deno.makeTempFile({ suffix: ".txt" });
  try {
    await Deno.writeTextFile(file, "Once upon a time\nThe cat\n");
    const runs = [
      ["compress-inspect", "-m", STORIES, "--kv", "full", "-c", "600000", "Hi"],
      ["profile", "-m", STORIES, "--kv", "d2o", "--skip-layers", "1", "-c", "600000", "-p", "8"],
      ["generate", "-m", STORIES, "--prompts", file, "--kv", "full", "-c", "600000"],
    ];
    for (const args of runs) {
      const r = await runD2o(args);
      assert.equal(r.code, 6, `${args[0]}: ${r.stderr}`);
      assert.equal(r.stdout, "");
      assert.match(
        r.stderr,
        /^d2o: Cannot use a context of 600000 tokens for layers? [\d-]+ kept whole .*at most 524280 tokens here; lower -c\/--ctx\n$/,
      );
    }
    // Past the trained context: one warning, before the first line.
    const past = await runD2o([
      "generate",
      "-m",
      STORIES,
      "--prompts",
      file,
      "-c",
      "4096",
      "-n",
      "2",
      "--temp",
      "0",
    ]);
    assert.equal(past.code, 0, past.stderr);
    assert.equal(
      past.stderr,
      "d2o: warning: a context of 4096 tokens is past the model's trained context of 2048; " +
        "the text may degrade past it\n",
    );
    assert.equal(past.stdout.trim().split("\n").length, 2);
  } finally {
    await Deno.remove(file);
  }
});
