import assert from "node:assert/strict";
import { ensureFixtures } from "../../fixtures/make_fixtures.ts";
import { D2O_RUN, sharedModel, signalled } from "./_run.ts";

const FIXTURE = (await ensureFixtures()).get("llama-q8_0")!;
const STORIES = sharedModel("stories260K.gguf");
/** The stop signals and the exit code each one ends a run with (128 + its number). */
const SIGNALS = [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]] as const;

/** A long generation's flags (it runs until a signal stops it). */
const LONG = ["--temp", "0", "--ignore-eos", "-c", "512", "--kv", "d2o", "-n", "100000"];

/** `d2o generate` on the fixture with LONG and `flags`, stopped by `signal` once ready. */
function generate(
  flags: string[],
  ready: (out: string, err: string) => boolean,
  signal: Deno.Signal,
) {
  return signalled(
    ["generate", "-m", FIXTURE, ...LONG, ...flags, "Once upon a time"],
    ready,
    [signal],
  );
}

for (const [signal, code] of SIGNALS) {
  const line = new RegExp(`^d2o: interrupted by ${signal} after \\d+ generated tokens$`);
  const duringPrompt = new RegExp(
    `^d2o: interrupted by ${signal} during the prompt, after \\d+ of \\d+ prompt tokens$`,
  );

  Deno.test(`${signal} during --jsonl ends with the done event of the partial run, exit ${code}`, async () => {
    const r = await generate(["--jsonl"], (out) => out.split("\n").length > 6, signal);
    assert.equal(r.code, code, r.err);
    const events = r.out.trim().split("\n").map((l) => JSON.parse(l));
    const done = events.at(-1);
    assert.equal(done.type, "done");
    assert.equal(done.stopReason, "interrupted");
    const tokens = events.filter((e) => e.type === "token");
    assert.ok(tokens.length >= 5);
    assert.deepEqual(done.tokens, tokens.map((e) => e.id));
    // The text of the events, plus what the decoder still held at the end.
    assert.ok(done.text.startsWith(tokens.map((e) => e.text).join("")));
    assert.match(r.err.trim(), line);
  });

  Deno.test(`${signal} during --json prints the partial result object, exit ${code}`, async () => {
    const r = await generate(
      ["--json", "--verbose"],
      (_, err) => err.includes("KV cache:"),
      signal,
    );
    assert.equal(r.code, code, r.err);
    const result = JSON.parse(r.out);
    assert.equal(result.stopReason, "interrupted");
    // The signal comes during the prompt (no token) or after some tokens.
    assert.ok(result.tokens.length < 100000);
    assert.match(r.err, /d2o: stop: interrupted\n/);
    const last = r.err.trim().split("\n").at(-1)!;
    if (result.tokens.length > 0) assert.match(last, line);
    else assert.match(last, duringPrompt);
  });

  Deno.test(`${signal} while streaming text ends the text cleanly, exit ${code}`, async () => {
    const r = await generate([], (out) => out.length > 40, signal);
    assert.equal(r.code, code, r.err);
    assert.ok(r.out.length > 40);
    assert.match(r.err.trim(), line);
  });
}

/** A prompt of 1,902 tokens: with -b 16, 119 chunks, many seconds on lavapipe. */
const LONG_PROMPT = "Once upon a time there was a little girl who liked to play. ".repeat(100);

Deno.test("SIGTERM during a long prompt stops it between submissions: the partial result, exit 143", async () => {
  // --verbose off a terminal: a progress line every 2 s of the prompt says it is under way.
  const r = await signalled(
    ["generate", "-m", STORIES, "-c", "2048", "-b", "16", "-n", "8", "--json", "--verbose"].concat(
      LONG_PROMPT,
    ),
    (_, err) => /d2o: prompt \d+\/1902 tokens \(/.test(err),
    ["SIGTERM"],
  );
  assert.equal(r.code, 143, r.err);
  const result = JSON.parse(r.out);
  assert.equal(result.stopReason, "interrupted");
  assert.deepEqual(result.tokens, []);
  assert.equal(result.text, "");
  assert.equal(result.promptTokens.length, 1902);
  const progress = r.err.match(/^d2o: prompt (\d+)\/1902 tokens \([\d.]+ tokens per second\)$/m);
  assert.ok(progress, r.err);
  const last = r.err.trim().split("\n").at(-1)!;
  const stopped = last.match(
    /^d2o: interrupted by SIGTERM during the prompt, after (\d+) of 1902 prompt tokens$/,
  );
  assert.ok(stopped, last);
  assert.ok(Number(stopped[1]) >= Number(progress[1]) && Number(stopped[1]) < 1902, last);
});

Deno.test("a second signal during the prompt ends the process without a result", async () => {
  // Both signals arrive together (the child is paused while they are sent): the first asks for
  // the partial result, the second ends the process at once, before the prompt's next
  // submission. Which of the two is seen first is not known, so either code is right.
  const r = await signalled(
    ["generate", "-m", STORIES, "-c", "2048", "-b", "16", "-n", "8", "--json", "--verbose"].concat(
      LONG_PROMPT,
    ),
    (_, err) => err.includes("KV cache:"),
    ["SIGTERM", "SIGHUP"],
    { pause: true },
  );
  assert.ok([129, 143].includes(r.code), `exit ${r.code}: ${r.err}`);
  assert.equal(r.out, "");
  assert.doesNotMatch(r.err, /interrupted by|stop:/);
});

Deno.test("a signal's exit code wins over an output that then cannot be written", async () => {
  const cmd = [Deno.execPath(), ...D2O_RUN, "generate", "-m", FIXTURE, ...LONG, "--json"]
    .map((a) => `'${a}'`).join(" ");
  const r = await signalled(
    ["-c", `exec ${cmd} --verbose 'Once upon a time' > /dev/full`],
    (_, err) => err.includes("KV cache:"),
    ["SIGINT"],
    { command: "bash" },
  );
  assert.equal(r.code, 130, r.err);
  assert.match(
    r.err.trim().split("\n").at(-1)!,
    /^d2o: Cannot write output: No space left on device$/,
  );
});

Deno.test("compress-inspect: SIGTERM while generating ends with one line and exit 143, no page", async () => {
  const dir = await Deno.makeTempDir({ prefix: "d2o-signal-" });
  try {
    const r = await signalled(
      [
        "compress-inspect",
        "-m",
        STORIES,
        "-c",
        "4096",
        "--generate",
        "4000",
        "--html",
        `${dir}/p.html`,
        "Once upon a time",
      ],
      // Its progress line (every 2 s off a terminal) says the generation runs.
      (_, err) => err.includes("d2o: generating "),
      ["SIGTERM"],
    );
    assert.equal(r.code, 143, r.err);
    assert.equal(r.out, "");
    assert.match(
      r.err.trim().split("\n").at(-1)!,
      /^d2o: interrupted by SIGTERM after \d+ of 4000 generated tokens$/,
    );
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("compress-inspect: SIGINT during a long prompt stops it between submissions, exit 130", async () => {
  const r = await signalled(
    ["compress-inspect", "-m", STORIES, "-c", "2048", "-b", "16", "--generate", "4", LONG_PROMPT],
    // Its prompt progress line (every 2 s off a terminal) says the prompt is under way.
    (_, err) => /d2o: prompt \d+\/1902 tokens/.test(err),
    ["SIGINT"],
  );
  assert.equal(r.code, 130, r.err);
  assert.equal(r.out, "");
  const stopped = r.err.trim().split("\n").at(-1)!.match(
    /^d2o: interrupted by SIGINT after (\d+) of 1902 prompt tokens$/,
  );
  assert.ok(stopped, r.err);
  assert.ok(Number(stopped[1]) < 1902, r.err);
});

Deno.test("profile: SIGHUP ends after the current timed run with one line and exit 129", async () => {
  // -c past the trained context: runProfile warns once it runs (the watch is on by then).
  const r = await signalled(
    [
      "profile",
      "-m",
      STORIES,
      "--kv",
      "full",
      "-p",
      "64",
      "-n",
      "0",
      "-r",
      "10000",
      "-c",
      "4096",
      "-o",
      "json",
    ],
    (_, err) => err.includes("d2o: warning:"),
    ["SIGHUP"],
  );
  assert.equal(r.code, 129, r.err);
  assert.equal(r.out, "");
  assert.match(
    r.err.trim().split("\n").at(-1)!,
    /^d2o: interrupted by SIGHUP after \d+ of 10001 timed runs and texts$/,
  );
});
