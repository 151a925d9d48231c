import assert from "node:assert/strict";
import { runD2o, sharedModel } from "./_run.ts";

const STORIES = sharedModel("stories260K.gguf");
const PROMPT = "Once upon a time there was a little girl";

async function digest(path: string): Promise<string> {
  const bytes = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Runs `fn` in a fresh temporary directory holding a copy of the model. */
async function inTemp(fn: (dir: string, model: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "d2o-output-" });
  try {
    const model = `${dir}/copy.gguf`;
    await Deno.copyFile(STORIES, model);
    await fn(dir, model);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("--html never replaces an input: the model, a hard link to it, or the prompt file", async () => {
  await inTemp(async (dir, model) => {
    const before = await digest(model);
    await Deno.link(model, `${dir}/link.gguf`);
    await Deno.symlink(model, `${dir}/sym.gguf`);
    const prompt = `${dir}/prompt.txt`;
    await Deno.writeTextFile(prompt, PROMPT);
    const cases: [string[], RegExp][] = [
      [["-m", model, PROMPT, "--html", model], /it is the model/],
      [["-m", model, PROMPT, "--html", `${dir}/link.gguf`], /it is the model/],
      [["-m", model, PROMPT, "--html", `${dir}/sym.gguf`], /it is the model/],
      [["-m", model, PROMPT, "--html", model, "--force"], /it is the model/],
      [["-m", model, "-f", prompt, "--html", prompt], /it is the prompt file/],
    ];
    for (const [args, why] of cases) {
      const r = await runD2o(["compress-inspect", ...args]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr.trim(), new RegExp(`^d2o: Cannot write --html ".*": ${why.source}`));
      assert.equal(r.stdout, "");
    }
    assert.equal(await digest(model), before);
    assert.equal(await Deno.readTextFile(prompt), PROMPT);
  });
});

Deno.test("--html replaces someone else's file only with --force, and its own page freely", async () => {
  await inTemp(async (dir, model) => {
    const notes = `${dir}/notes.html`;
    await Deno.writeTextFile(notes, "<html>my notes</html>");
    const refused = await runD2o(["compress-inspect", "-m", model, PROMPT, "--html", notes]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /exists and is not one of ours; add --force/);
    assert.equal(await Deno.readTextFile(notes), "<html>my notes</html>");

    const forced = await runD2o([
      "compress-inspect",
      "-m",
      model,
      PROMPT,
      "--html",
      notes,
      "--force",
    ]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(
      await Deno.readTextFile(notes),
      /<meta name="generator" content="d2o compress-inspect">/,
    );
    // The page is ours now: a second run replaces it without --force; so is an empty file.
    const empty = await Deno.makeTempFile({ dir, suffix: ".html" });
    const fresh = await runD2o(["compress-inspect", "-m", model, "Once", "--html", empty]);
    assert.equal(fresh.code, 0, fresh.stderr);
    await Deno.remove(empty);
    const again = await runD2o(["compress-inspect", "-m", model, "Once", "--html", notes]);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
      "copy.gguf",
      "notes.html",
    ]);
  });
});

Deno.test("a failed run leaves no page and no temporary file", async () => {
  await inTemp(async (dir, model) => {
    // A layer the model does not have: the run fails after the path was accepted.
    const r = await runD2o([
      "compress-inspect",
      "-m",
      model,
      PROMPT,
      "-c",
      "4",
      "--html",
      `${dir}/p.html`,
    ]);
    assert.notEqual(r.code, 0);
    const missing = await runD2o([
      "compress-inspect",
      "-m",
      model,
      PROMPT,
      "--html",
      `${dir}/no/p.html`,
    ]);
    assert.equal(missing.code, 3, missing.stderr);
    assert.match(
      missing.stderr,
      /Cannot write --html ".*no\/p\.html": its directory does not exist/,
    );
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["copy.gguf"]);
  });
});
