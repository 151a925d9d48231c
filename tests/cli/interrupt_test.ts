import assert from "node:assert/strict";
import { ensureFixtures } from "../../fixtures/make_fixtures.ts";

const FIXTURE = (await ensureFixtures()).get("llama-q8_0")!;
const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;

/** Starts a long generation, waits until `ready(stdout, stderr)`, sends SIGINT and collects the rest. */
async function interrupted(flags: string[], ready: (out: string, err: string) => boolean) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--config",
      CONFIG,
      "--allow-read",
      "--allow-write",
      "--allow-env",
      MAIN,
      "generate",
      "-m",
      FIXTURE,
      "--temp",
      "0",
      "--ignore-eos",
      "-c",
      "512",
      "--kv",
      "d2o",
      "-n",
      "100000",
      ...flags,
      "Once upon a time",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  let [out, err] = ["", ""];
  const pump = async (stream: ReadableStream<Uint8Array>, add: (s: string) => void) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) add(chunk);
  };
  const done = Promise.all([
    pump(child.stdout, (s) => out += s),
    pump(child.stderr, (s) => err += s),
  ]);
  const deadline = Date.now() + 60_000;
  while (!ready(out, err) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  child.kill("SIGINT");
  const status = await child.status;
  await done;
  return { code: status.code, out, err };
}

Deno.test("SIGINT during --jsonl ends with the done event of the partial run, exit 130", async () => {
  const r = await interrupted(["--jsonl"], (out) => out.split("\n").length > 6);
  assert.equal(r.code, 130, r.err);
  const events = r.out.trim().split("\n").map((l) => JSON.parse(l));
  const done = events.at(-1);
  assert.equal(done.type, "done");
  assert.equal(done.stopReason, "interrupted");
  const tokens = events.filter((e) => e.type === "token");
  assert.ok(tokens.length >= 5);
  assert.deepEqual(done.tokens, tokens.map((e) => e.id));
  // The text of the events, plus what the decoder still held at the end.
  assert.ok(done.text.startsWith(tokens.map((e) => e.text).join("")));
  assert.match(r.err.trim(), /^d2o: interrupted after \d+ generated tokens$/);
});

Deno.test("SIGINT during --json prints the partial result object, exit 130", async () => {
  const r = await interrupted(["--json", "--verbose"], (_, err) => err.includes("KV cache:"));
  assert.equal(r.code, 130, r.err);
  const result = JSON.parse(r.out);
  assert.equal(result.stopReason, "interrupted");
  assert.ok(result.tokens.length >= 1 && result.tokens.length < 100000);
  assert.match(r.err, /d2o: stop: interrupted\nd2o: interrupted after \d+ generated tokens\n$/);
});

Deno.test("SIGINT while streaming text ends the text cleanly, exit 130", async () => {
  const r = await interrupted([], (out) => out.length > 40);
  assert.equal(r.code, 130, r.err);
  assert.ok(r.out.length > 40);
  assert.match(r.err.trim(), /^d2o: interrupted after \d+ generated tokens$/);
});
