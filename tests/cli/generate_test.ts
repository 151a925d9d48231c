import assert from "node:assert/strict";
import {
  buildFixtureSpec,
  ensureFixtures,
  STANDARD_FIXTURES,
} from "../../fixtures/make_fixtures.ts";
import { writeGguf } from "../../src/gguf/writer.ts";
import { runD2o, sharedModel } from "./_run.ts";

const STORIES = sharedModel("stories260K.gguf");
const FIXTURE = (await ensureFixtures()).get("llama-q8_0")!;
const PROMPT = "Once upon a time";

async function generateJson(args: string[], stdin?: string) {
  const r = await runD2o(["generate", "-m", FIXTURE, "--temp", "0", "--json", ...args], stdin);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

Deno.test("d2o generate --json reports text, ids, timings and memory", async () => {
  const result = await generateJson([PROMPT, "-n", "8"]);
  assert.equal(result.tokens.length, 8);
  assert.equal(result.stopReason, "max_tokens");
  assert.equal(result.promptTokens[0], 1, "BOS first");
  assert.ok(result.timings.decodeTokensPerSecond > 0);
  assert.ok(result.memory.weights > 0 && result.memory.kvCache > 0 && result.memory.scratch > 0);
});

Deno.test("d2o generate takes the prompt from an argument, a file, - and piped stdin alike", async () => {
  const fromArg = await generateJson([PROMPT, "-n", "6"]);
  const file = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(file, PROMPT);
    const fromFile = await generateJson(["-f", file, "-n", "6"]);
    const fromDash = await generateJson(["-", "-n", "6"], PROMPT);
    const fromPipe = await generateJson(["-n", "6"], PROMPT);
    for (const other of [fromFile, fromDash, fromPipe]) {
      assert.deepEqual(other.promptTokens, fromArg.promptTokens);
      assert.deepEqual(other.tokens, fromArg.tokens);
    }
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("d2o generate streams only the generated text to stdout", async () => {
  const json = await generateJson([PROMPT, "-n", "12"]);
  const plain = await runD2o(["generate", "-m", FIXTURE, "--temp", "0", PROMPT, "-n", "12"]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.equal(plain.stdout, json.text);
  assert.equal(plain.stderr, "", "nothing on stderr without --verbose");
});

Deno.test("d2o generate --jsonl prints one event per token and a final result", async () => {
  const r = await runD2o(["generate", "-m", FIXTURE, "--temp", "0", "--jsonl", PROMPT, "-n", "5"]);
  assert.equal(r.code, 0, r.stderr);
  const events = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(events.length, 6);
  assert.ok(events.slice(0, 5).every((e) => e.type === "token" && Number.isInteger(e.id)));
  const done = events[5];
  assert.equal(done.type, "done");
  assert.deepEqual(events.slice(0, 5).map((e) => e.id), done.tokens);
  assert.equal(events.slice(0, 5).map((e) => e.text).join(""), done.text);
});

Deno.test("d2o generate --stop cuts the text before the stop string", async () => {
  const full = await generateJson([PROMPT, "-n", "40"]);
  // Stop at a piece of the text the model is known to produce.
  const stop = full.text.slice(10, 14);
  const cut = await generateJson([PROMPT, "-n", "40", "--stop", stop]);
  assert.equal(cut.stopReason, "stop_string");
  assert.equal(cut.text, full.text.slice(0, full.text.indexOf(stop)));
});

Deno.test("d2o generate | head -c 20 ends quietly with exit 0", async () => {
  const main = new URL("../../main.ts", import.meta.url).pathname;
  const cmd = `"${Deno.execPath()}" run -A "${main}" generate -m "${FIXTURE}" --temp 0 ` +
    `--ignore-eos -n 400 "${PROMPT}" | head -c 20; echo " status=\${PIPESTATUS[0]}"`;
  const out = await new Deno.Command("bash", {
    args: ["-c", cmd],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const stdout = new TextDecoder().decode(out.stdout);
  assert.match(stdout, / status=0$/m, new TextDecoder().decode(out.stderr));
  assert.equal(new TextDecoder().decode(out.stderr), "");
});

Deno.test("d2o generate rejects a prompt longer than the context with exit 6", async () => {
  const r = await runD2o(["generate", "-m", STORIES, "-c", "8", "--temp", "0", PROMPT.repeat(5)]);
  assert.equal(r.code, 6);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /prompt of \d+ tokens .* context of 8/);
});

Deno.test("d2o generate names the flag and range of a bad value, exit 2", async () => {
  const r = await runD2o(["generate", "-m", FIXTURE, "-n", "many", PROMPT]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--max-tokens/);
  assert.match(r.stderr, /integer ≥ -1/);
  const t = await runD2o(["generate", "-m", FIXTURE, "--top-p", "1.5", PROMPT]);
  assert.equal(t.code, 2);
  assert.match(t.stderr, /--top-p/);
});

Deno.test("d2o generate on a missing model exits 3 with one line", async () => {
  const r = await runD2o(["generate", "-m", "/nonexistent.gguf", PROMPT]);
  assert.equal(r.code, 3);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
});

Deno.test("d2o generate with the same --seed samples the same text, another seed differs", async () => {
  const run = async (seed: string) => {
    const r = await runD2o([
      "generate",
      "-m",
      STORIES,
      "--json",
      "--seed",
      seed,
      "-n",
      "40",
      PROMPT,
    ]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };
  const a = await run("42");
  const b = await run("42");
  const c = await run("7");
  assert.equal(a.seed, 42);
  assert.deepEqual(a.tokens, b.tokens);
  assert.notDeepEqual(a.tokens, c.tokens);
});

Deno.test("d2o generate with a compressing cache runs past the trained context in bounded memory, with a warning", async () => {
  // The fixture was trained on 512 positions; a 64-token context and a 32-token budget
  // per layer still generate 560 tokens.
  const r = await runD2o([
    "generate",
    "-m",
    FIXTURE,
    "--temp",
    "0",
    "--ignore-eos",
    "-c",
    "64",
    "--kv",
    "d2o",
    "--kv-budget",
    "32",
    "-n",
    "560",
    "--json",
    "-ctk",
    "f32",
    "-ctv",
    "f32",
    PROMPT,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  assert.equal(result.tokens.length, 560);
  // d2o spreads 2 × 32 slots over the two layers; each allocates one more for the incoming token.
  const slots = result.kv.layerSlots.reduce((a: number, b: number) => a + b, 0);
  assert.equal(slots, 64);
  const perSlot = 2 * 2 * 64 * 4; // K and V of 2 KV heads × 64 dims, f32
  assert.equal(result.memory.kvCache, (slots + 2) * perSlot);
  assert.ok(result.memory.kvCache < result.memory.kvCacheFull / 8);
  const warnings = r.stderr.match(
    /warning: generation went past the model's trained context of 512 /g,
  );
  assert.equal(warnings?.length, 1, r.stderr);
});

Deno.test("-n -1 (the default) ends at a full context whatever the policy", async () => {
  for (const kv of ["full", "streaming", "h2o", "d2o"]) {
    const r = await runD2o(
      [
        "generate",
        "-m",
        FIXTURE,
        "--temp",
        "0",
        "--ignore-eos",
        "-c",
        "48",
        "--kv",
        kv,
        "--json",
        PROMPT,
      ],
      undefined,
      { timeoutMs: 60_000 },
    );
    assert.equal(r.code, 0, `${kv}: ${r.stderr}`);
    const result = JSON.parse(r.stdout);
    assert.equal(result.stopReason, "context_full", kv);
    assert.equal(result.promptTokens.length + result.tokens.length, 48, kv);
  }
});

Deno.test("the trained-context warning fires only past it, not when the run just fills it", async () => {
  // A fixture trained on 48 positions; "Once upon a time" is 5 tokens with BOS.
  const dir = await Deno.makeTempDir();
  try {
    const model = `${dir}/short.gguf`;
    const base = STANDARD_FIXTURES.find((f) => f.name === "llama-q8_0")!;
    await writeGguf(model, buildFixtureSpec({ ...base, contextLength: 48 }));
    const run = (n: number) =>
      runD2o([
        "generate",
        "-m",
        model,
        "--temp",
        "0",
        "--ignore-eos",
        "--kv",
        "d2o",
        "--kv-budget",
        "16",
        "-n",
        String(n),
        "--json",
        PROMPT,
      ]);
    const filled = await run(44); // the model reads 5 + 43 = 48 positions
    assert.equal(filled.code, 0, filled.stderr);
    assert.equal(filled.stderr, "");
    assert.equal(JSON.parse(filled.stdout).tokens.length, 44);
    const past = await run(60);
    assert.equal(past.code, 0, past.stderr);
    assert.equal(past.stderr.match(/went past the model's trained context of 48 /g)?.length, 1);
    assert.equal(JSON.parse(past.stdout).tokens.length, 60);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--json with --jsonl is refused: one line, exit 2", async () => {
  const r = await runD2o(["generate", "-m", FIXTURE, "--json", "--jsonl", PROMPT]);
  assert.equal(r.code, 2);
  assert.match(r.stderr.trim(), /^d2o: Cannot use --json and --jsonl together: .*choose one$/);
  assert.equal(r.stdout, "");
});

Deno.test("--verbose reports shader compilation apart from the prompt speed", async () => {
  const r = await runD2o([
    "generate",
    "-m",
    FIXTURE,
    "--temp",
    "0",
    "-n",
    "4",
    "--verbose",
    "--json",
    PROMPT,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const { timings } = JSON.parse(r.stdout);
  assert.ok(timings.compileMs > 0, "a fresh process compiles its shaders during the prompt");
  const line = r.stderr.split("\n").find((l) => l.startsWith("d2o: prompt "))!;
  assert.match(
    line,
    /^d2o: prompt \d+ tokens in [\d.]+ ms \([\d.]+ tokens\/s\), shader compilation \d+ ms apart$/,
  );
});

Deno.test("the README's --json example ends by itself at the trained context", async () => {
  // echo "Once upon a time" | d2o generate -m stories260K.gguf --temp 0 --json
  const r = await runD2o(
    ["generate", "-m", STORIES, "--temp", "0", "--json"],
    "Once upon a time\n",
    {
      timeoutMs: 300_000,
    },
  );
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  assert.ok(["eos", "context_full"].includes(result.stopReason), result.stopReason);
  assert.ok(result.promptTokens.length + result.tokens.length <= 2048);
});
