import assert from "node:assert/strict";
import { ensureFixtures } from "../../fixtures/make_fixtures.ts";
import { runD2o } from "./_run.ts";

const FIXTURE = (await ensureFixtures()).get("llama-q8_0")!;

/** Runs `d2o ARGS`, expects exit 2 and exactly one stderr line, and returns it. */
async function usageError(args: string[]): Promise<string> {
  const { code, stdout, stderr } = await runD2o(args);
  assert.equal(code, 2, stderr);
  assert.equal(stdout, "");
  const lines = stderr.trim().split("\n");
  assert.equal(lines.length, 1, `one line on stderr, got:\n${stderr}`);
  return lines[0]!;
}

const cases: Array<[string[], RegExp]> = [
  [
    ["-n", "-5", "hi"],
    /^d2o: Cannot use -n\/--max-tokens "-5": expected an integer ≥ -1; see `d2o generate --help`$/,
  ],
  [
    ["--temp", "x", "hi"],
    /^d2o: Cannot use --temp "x": expected a number ≥ 0; see `d2o generate --help`$/,
  ],
  [["--top-p", "2", "hi"], /^d2o: Cannot use --top-p "2": expected a number from 0 to 1; see/],
  [["--no-such", "hi"], /^d2o: Unknown option --no-such; see `d2o generate --help`$/],
  [
    ["--max-token", "3", "hi"],
    /^d2o: Unknown option --max-token \(did you mean --max-tokens\?\); see/,
  ],
  [["-n"], /^d2o: Missing the value of -n\/--max-tokens; see `d2o generate --help`$/],
  [["a", "b"], /^d2o: Too many arguments: a, b .*; see `d2o generate --help`$/],
];

for (const [args, expected] of cases) {
  Deno.test(`d2o generate ${args.join(" ")}: one line naming the flag and its range, exit 2`, async () => {
    assert.match(await usageError(["generate", "-m", FIXTURE, ...args]), expected);
  });
}

Deno.test("d2o generate without -m: one line, exit 2", async () => {
  assert.match(
    await usageError(["generate", "Once"]),
    /^d2o: Missing -m\/--model: it is required; see `d2o generate --help`$/,
  );
});

Deno.test("llama.cpp flags with no meaning here get a one-line hint, not a misparse", async () => {
  for (const flag of ["-cnv", "--conversation", "-fa", "--mlock", "-sm"]) {
    const line = await usageError(["generate", "-m", FIXTURE, flag, "hi"]);
    assert.match(
      line,
      new RegExp(`^d2o: ${flag} is a llama\\.cpp flag with no meaning here: .+; see`),
    );
  }
});

Deno.test("llama.cpp spellings of generate's flags give the same run as ours", async () => {
  const ours = await runD2o([
    "generate",
    "-m",
    FIXTURE,
    "--temp",
    "0",
    "--json",
    "-n",
    "4",
    "-c",
    "64",
    "--seed",
    "3",
    "Once upon",
  ]);
  const theirs = await runD2o([
    "generate",
    "-m",
    FIXTURE,
    "--temp",
    "0",
    "--json",
    "--n-predict",
    "4",
    "--ctx-size=64",
    "-s",
    "3",
    "-ngl",
    "99",
    "-t",
    "4",
    "--threads-batch",
    "2",
    "-p",
    "Once upon",
  ]);
  assert.equal(ours.code, 0, ours.stderr);
  assert.equal(theirs.code, 0, theirs.stderr);
  const [a, b] = [JSON.parse(ours.stdout), JSON.parse(theirs.stdout)];
  assert.deepEqual(b.promptTokens, a.promptTokens);
  assert.deepEqual(b.tokens, a.tokens);
  assert.equal(b.tokens.length, 4);
});

Deno.test("a value of ours that looks like a llama.cpp flag stays a value", async () => {
  const r = await runD2o([
    "generate",
    "-m",
    FIXTURE,
    "--temp",
    "0",
    "--json",
    "-n",
    "2",
    "--stop",
    "-t",
    "hi",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).tokens.length <= 2, true);
});

Deno.test("generate --help lists the llama.cpp spellings", async () => {
  const { code, stdout } = await runD2o(["generate", "--help"]);
  assert.equal(code, 0);
  assert.match(stdout, /-p\/--prompt TEXT = the prompt argument/);
  assert.match(stdout, /--n-predict = --max-tokens/);
  assert.match(stdout, /--ctx-size = --ctx/);
  assert.match(stdout, /-t\/--threads.* accepted and\s+ignored/);
});
