/**
 * `-ctk/--cache-type-k` and `-ctv/--cache-type-v` end to end on stories260K:
 * the default follows the adapter (f16 where it has `shader-f16`), each flag
 * overrides its half, every memory figure counts the real bytes (f16 halves
 * them), `--verbose` says the choice and why, and a type d2o's cache cannot
 * hold is one usage line (exit 2) in every command that has the flags.
 *
 * @module
 */

import assert from "node:assert/strict";
import { adapterLimits } from "../../src/gpu/device.ts";
import { gpuTestOptions } from "../_gpu.ts";
import { runD2o, sharedModel } from "./_run.ts";

const STORIES = sharedModel("stories260K.gguf");
const PROMPT = "Once upon a time, there was a little girl named Lily.";
/** stories260K: 5 layers × K and V × 4 KV heads × 8 values, per token. */
const VALUES_PER_TOKEN = 5 * 2 * 4 * 8;

async function generateJson(...flags: string[]) {
  const r = await runD2o([
    "generate",
    "-m",
    STORIES,
    "--temp",
    "0",
    "-n",
    "6",
    "--kv",
    "full",
    "--json",
    ...flags,
    PROMPT,
  ]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

Deno.test({
  name: "generate: the KV cache is f16 by default where the adapter has shader-f16, and each " +
    "flag sets its half; the bytes follow",
  ...gpuTestOptions,
  async fn() {
    const hasF16 = (await adapterLimits())!.hasF16;
    const f32 = await generateJson("-ctk", "f32", "-ctv", "f32");
    const f16 = await generateJson("--cache-type-k", "f16", "--cache-type-v", "f16");
    const mixed = await generateJson("-ctk", "f16", "-ctv", "f32");
    const byDefault = await generateJson();
    const tokens = f32.promptTokens.length + f32.tokens.length - 1;
    assert.equal(f32.memory.kvCacheFull, tokens * VALUES_PER_TOKEN * 4);
    assert.equal(f16.memory.kvCacheFull, tokens * VALUES_PER_TOKEN * 2, "f16 halves the bytes");
    assert.equal(f16.memory.kvCache * 2, f32.memory.kvCache);
    assert.equal(mixed.memory.kvCache * 4, f32.memory.kvCache * 3, "f16 K + f32 V: 3/4");
    assert.deepEqual(byDefault.memory, (hasF16 ? f16 : f32).memory);
    // Greedy on this prompt: the f16 cache keeps the f32 cache's tokens.
    assert.deepEqual(f16.tokens, f32.tokens);
  },
});

Deno.test({
  name: "generate --verbose says the cache types and why",
  ...gpuTestOptions,
  async fn() {
    const hasF16 = (await adapterLimits())!.hasF16;
    const run = (...flags: string[]) =>
      runD2o(["generate", "-m", STORIES, "-n", "2", "--verbose", ...flags, PROMPT]);
    const byDefault = await run();
    assert.equal(byDefault.code, 0, byDefault.stderr);
    const type = hasF16 ? "f16" : "f32";
    assert.match(
      byDefault.stderr,
      new RegExp(
        `^d2o: KV cache types: ${type}, ${hasF16 ? 2 : 4} bytes per value \\(the default: ` +
          `the adapter has ${hasF16 ? "" : "no "}shader-f16\\)$`,
        "m",
      ),
    );
    const asked = await run("-ctv", "f32", "-ctk", "f16");
    assert.match(
      asked.stderr,
      /^d2o: KV cache types: K f16, V f32 \(from --cache-type-k and --cache-type-v\)$/m,
    );
    const batchFile = await Deno.makeTempFile({ suffix: ".jsonl" });
    try {
      await Deno.writeTextFile(batchFile, `{"id": "a", "prompt": ${JSON.stringify(PROMPT)}}\n`);
      const batch = await runD2o([
        "generate",
        "-m",
        STORIES,
        "-n",
        "2",
        "--prompts",
        batchFile,
        "--verbose",
        "-ctk",
        "f32",
      ]);
      assert.equal(batch.code, 0, batch.stderr);
      assert.match(
        batch.stderr,
        /^d2o: KV cache types: (f32, 4 bytes per value|K f32, V f16) \(K from --cache-type-k, V the default/m,
      );
    } finally {
      await Deno.remove(batchFile);
    }
  },
});

Deno.test({
  name: "compress-inspect and profile count the real bytes of the cache types they run",
  ...gpuTestOptions,
  async fn() {
    const inspect = async (type: string) => {
      const r = await runD2o([
        "compress-inspect",
        "-m",
        STORIES,
        "--kv-min",
        "4",
        "--json",
        "-ctk",
        type,
        "-ctv",
        type,
        PROMPT,
      ]);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout).memory;
    };
    const [i32, i16] = [await inspect("f32"), await inspect("f16")];
    assert.deepEqual(i16.kvTypes, { k: "f16", v: "f16" });
    assert.equal(i16.kvBytes * 2, i32.kvBytes);
    assert.equal(i16.fullKvBytes * 2, i32.fullKvBytes);
    const profile = async (type: string) => {
      const r = await runD2o([
        "profile",
        "-m",
        STORIES,
        "--kv",
        "full,d2o",
        "-p",
        "32",
        "-n",
        "0",
        "-r",
        "1",
        "-o",
        "json",
        "-ctk",
        type,
        "-ctv",
        type,
      ]);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout);
    };
    const [p32, p16] = [await profile("f32"), await profile("f16")];
    assert.deepEqual(p16.kvTypes, { k: "f16", v: "f16" });
    p16.rows.forEach((row: { memory: Record<string, number> }, i: number) => {
      const m32 = p32.rows[i].memory;
      for (const key of ["kvAllocatedBytes", "kvLiveBytes", "kvFullBytes"]) {
        assert.equal(row.memory[key]! * 2, m32[key], `${p16.rows[i].kv}: ${key}`);
      }
    });
  },
});

Deno.test("a cache type d2o cannot hold is one usage line, exit 2, in every command with the flags", async () => {
  const cases: [string[], RegExp][] = [
    [
      ["generate", "-m", STORIES, "-ctk", "q4_0", "hi"],
      /^d2o: Cannot use --cache-type-k q4_0: d2o's KV cache holds f32 or f16 \(llama\.cpp's q4_0 cache is not supported\)/,
    ],
    [
      ["compress-inspect", "-m", STORIES, "--cache-type-v", "Q8_0", "hi"],
      /^d2o: Cannot use --cache-type-v Q8_0: d2o's KV cache holds f32 or f16/,
    ],
    [
      ["profile", "-m", STORIES, "-ctv", "half"],
      /^d2o: Cannot use --cache-type-v half: expected f32 or f16$/,
    ],
    [
      ["tokenize", "-m", STORIES, "-ctk", "f16", "hi"],
      /^d2o: -ctk is a llama\.cpp flag with no meaning here: only generate, compress-inspect and profile keep a KV cache;/,
    ],
  ];
  for (const [args, expected] of cases) {
    const { code, stdout, stderr } = await runD2o(args);
    assert.equal(code, 2, `${args.join(" ")}: ${stderr}`);
    assert.equal(stdout, "");
    const lines = stderr.trim().split("\n");
    assert.equal(lines.length, 1, stderr);
    assert.match(lines[0]!, expected);
  }
});

Deno.test("generate --help says which cache types are accepted and what the default is", async () => {
  const { stdout } = await runD2o(["generate", "--help"]);
  const help = stdout.replace(/\s+/g, " ");
  for (const [half, short] of [["keys", "-ctk"], ["values", "-ctv"]]) {
    assert.ok(
      help.includes(
        `KV cache type of the ${half}: f32 or f16 (default f16 where the adapter has ` +
          `shader-f16, else f32; ${short})`,
      ),
      half,
    );
  }
  assert.ok(help.includes("-ctk = --cache-type-k, -ctv = --cache-type-v"), "llama.cpp spellings");
});
