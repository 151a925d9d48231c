import assert from "node:assert/strict";
import { runD2o, sharedModel } from "./_run.ts";

const STORIES = sharedModel("stories260K.gguf");

function oneLine(stderr: string): string {
  const lines = stderr.trim().split("\n");
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${stderr}`);
  return lines[0]!;
}

Deno.test("d2o info on a missing file exits 3 with one line", async () => {
  const { code, stderr, stdout } = await runD2o(["info", "/nonexistent/model.gguf"]);
  assert.equal(code, 3);
  assert.equal(stdout, "");
  assert.match(oneLine(stderr), /^d2o: .*\/nonexistent\/model\.gguf/);
});

Deno.test("d2o info on a file that is not GGUF exits 3 naming the problem", async () => {
  const path = await Deno.makeTempFile({ suffix: ".gguf" });
  try {
    await Deno.writeTextFile(path, "this is not a model file at all, just some text\n");
    const before = await Deno.readFile(path);
    const { code, stderr } = await runD2o(["info", path]);
    assert.equal(code, 3);
    assert.match(oneLine(stderr), /magic/i);
    assert.deepEqual(await Deno.readFile(path), before, "the input file must not change");
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("d2o with an unknown flag exits 2", async () => {
  const { code, stderr } = await runD2o(["info", "--no-such-flag", "x.gguf"]);
  assert.equal(code, 2);
  assert.match(oneLine(stderr), /^d2o: Unknown option --no-such-flag; see `d2o info --help`$/);
});

Deno.test("d2o with an unknown subcommand exits 2", async () => {
  const { code, stderr } = await runD2o(["frobnicate"]);
  assert.equal(code, 2);
  assert.match(oneLine(stderr), /^d2o: Unknown command "frobnicate"; see `d2o --help`$/);
});

Deno.test("d2o --debug adds a stack trace to the error line", async () => {
  const { code, stderr } = await runD2o(["--debug", "info", "/nonexistent/model.gguf"]);
  assert.equal(code, 3);
  assert.ok(stderr.trim().split("\n").length > 1, stderr);
  assert.match(stderr, /\s+at /);
});

Deno.test("d2o --help lists the subcommands and exits 0", async () => {
  const { code, stdout } = await runD2o(["--help"]);
  assert.equal(code, 0);
  for (const sub of ["info"]) assert.match(stdout, new RegExp(`^\\s+${sub}\\b`, "m"));
});

Deno.test("error texts: no doubled word for an unknown tensor type, the real cause for a truncated file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const model = await Deno.readFile(STORIES);
    const truncated = `${dir}/cut.gguf`;
    await Deno.writeFile(truncated, model.subarray(0, 1000));
    const cut = await runD2o(["info", truncated]);
    assert.equal(cut.code, 3);
    assert.match(
      oneLine(cut.stderr),
      /tensor count 48 at byte 8 needs at least \d+ bytes, but the file ends 984 bytes later: it is truncated$/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a prompt that fills the context says how large a context it needs", async () => {
  // "Once upon a time" is 5 tokens with BOS: a context of 5 leaves no slot for a generated token.
  const r = await runD2o(["generate", "-m", STORIES, "-c", "5", "-n", "1", "Once upon a time"]);
  assert.equal(r.code, 6, r.stderr);
  assert.match(
    oneLine(r.stderr),
    /^d2o: Cannot run a prompt of 5 tokens in a context of 5: it needs at least 6 /,
  );
});
