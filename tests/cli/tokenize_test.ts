import assert from "node:assert/strict";
import { tokenizeCommand } from "../../src/cli/tokenize.ts";
import type { StdinLike } from "../../src/cli/prompt_input.ts";
import { InputError, UsageError } from "../../src/errors.ts";

const model = (name: string) => new URL(`../../../shared/models/${name}`, import.meta.url).pathname;
const STORIES = model("stories260K.gguf");
const LLAMA2 = model("llama-2-tiny-random.gguf");

/** A stdin that is a pipe holding `text`, or a terminal when `text` is undefined. */
function stdin(text?: string): StdinLike {
  return {
    isTerminal: () => text === undefined,
    readable: new Blob([text ?? ""]).stream(),
  };
}

/** Runs `d2o tokenize ARGS` in-process and returns what it printed. */
async function tokenize(args: string[], input: StdinLike = stdin()): Promise<string> {
  let out = "";
  const command = tokenizeCommand({
    write: (text) => Promise.resolve(void (out += text)),
    stdin: input,
  })
    .exitOverride()
    .configureOutput({ writeErr: () => {}, writeOut: () => {} });
  await command.parseAsync(args, { from: "user" });
  return out;
}

Deno.test("d2o tokenize prints the ids on one line", async () => {
  assert.equal(await tokenize(["-m", STORIES, "Once upon a time"]), "1 403 407 261 378\n");
  assert.equal(await tokenize(["-m", LLAMA2, "Once upon a time"]), "1 9038 2501 263 931\n");
});

Deno.test("d2o tokenize --pieces prints each id with its piece", async () => {
  assert.equal(
    await tokenize(["-m", STORIES, "--pieces", "Once upon a time"]),
    '1\t"<s>"\n403\t" Once"\n407\t" upon"\n261\t" a"\n378\t" time"\n',
  );
});

Deno.test("d2o tokenize --json prints one object, with pieces only when asked", async () => {
  assert.deepEqual(JSON.parse(await tokenize(["-m", LLAMA2, "--json", "Hello world"])), {
    ids: [1, 15043, 3186],
  });
  assert.deepEqual(
    JSON.parse(await tokenize(["-m", LLAMA2, "--json", "--pieces", "tab\there"])),
    { ids: [1, 4434, 12, 4150], pieces: ["<s>", " tab", "\t", "here"] },
  );
});

Deno.test("d2o tokenize --no-bos and --parse-special give the oracle's ids", async () => {
  const text = "<s> is special here";
  assert.equal(
    await tokenize(["-m", STORIES, "--parse-special", text]),
    "1 1 410 410 293 262 427 411 429 417 412 421 281 276\n",
  );
  assert.equal(
    await tokenize(["-m", STORIES, "--no-bos", text]),
    "410 504 419 505 410 293 262 427 411 429 417 412 421 281 276\n",
  );
});

Deno.test("d2o tokenize reads stdin for - and when stdin is piped", async () => {
  assert.equal(
    await tokenize(["-m", STORIES, "-"], stdin("Once upon a time")),
    "1 403 407 261 378\n",
  );
  assert.equal(await tokenize(["-m", STORIES], stdin("Once upon a time")), "1 403 407 261 378\n");
  assert.equal(await tokenize(["-m", STORIES], stdin("")), "1\n");
});

Deno.test("d2o tokenize never waits on a terminal", async () => {
  await assert.rejects(tokenize(["-m", STORIES]), UsageError);
  await assert.rejects(tokenize(["-m", STORIES, "-"]), UsageError);
});

Deno.test("d2o tokenize reports a missing model file as an input error", async () => {
  await assert.rejects(tokenize(["-m", "/nonexistent/model.gguf", "hi"]), InputError);
});

Deno.test("d2o tokenize requires -m", async () => {
  await assert.rejects(tokenize(["hi"]), /required option '-m, --model <path>' not specified/);
});
