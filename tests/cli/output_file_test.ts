import assert from "node:assert/strict";
import { whyNot } from "../../src/cli/output_file.ts";
import { D2O_RUN, runD2o, sharedModel } from "./_run.ts";

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

/** Whether `unshare -m` can mount a read-only folder here (root with CAP_SYS_ADMIN). */
async function canMountReadOnly(): Promise<boolean> {
  try {
    const out = await new Deno.Command("unshare", {
      args: ["-m", "sh", "-c", "mount -t tmpfs -o ro tmpfs /mnt && ! touch /mnt/x 2>/dev/null"],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

/** Whether a folder's mode bits stop this user (root writes through them). */
async function modeBitsHold(): Promise<boolean> {
  const dir = await Deno.makeTempDir({ prefix: "d2o-mode-" });
  try {
    await Deno.chmod(dir, 0o555);
    await Deno.writeTextFile(`${dir}/x`, "", { createNew: true });
    return false;
  } catch {
    return true;
  } finally {
    await Deno.chmod(dir, 0o755);
    await Deno.remove(dir, { recursive: true });
  }
}

/** Root writes through a folder's mode bits: a read-only mount stands for the read-only folder. */
const AS_ROOT = !await modeBitsHold();
const READ_ONLY_MOUNT = AS_ROOT && await canMountReadOnly();

Deno.test({
  name:
    "--html in a folder that cannot take a file fails before the model is read, naming the path",
  ignore: AS_ROOT && !READ_ONLY_MOUNT,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "d2o-readonly-" });
    try {
      // A model that does not exist: a run that reads it first fails on the model instead.
      const args = [
        Deno.execPath(),
        ...D2O_RUN,
        "compress-inspect",
        "-m",
        `${dir}/missing.gguf`,
        PROMPT,
        "--html",
        `${dir}/p.html`,
      ];
      let command: Deno.Command;
      if (READ_ONLY_MOUNT) {
        const quoted = args.map((a) => `'${a}'`).join(" ");
        command = new Deno.Command("unshare", {
          args: ["-m", "sh", "-c", `mount -t tmpfs -o ro tmpfs '${dir}' && exec ${quoted}`],
          stdout: "piped",
          stderr: "piped",
        });
      } else {
        await Deno.chmod(dir, 0o555);
        command = new Deno.Command(args[0]!, {
          args: args.slice(1),
          stdout: "piped",
          stderr: "piped",
        });
      }
      const out = await command.output();
      const stderr = new TextDecoder().decode(out.stderr).trim();
      assert.equal(out.code, 3, stderr);
      assert.equal(out.stdout.length, 0);
      const why = READ_ONLY_MOUNT ? "the file system is read-only" : "permission denied";
      assert.equal(stderr, `d2o: Cannot write --html "${dir}/p.html": ${why}`);
    } finally {
      await Deno.chmod(dir, 0o755);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("--html /dev/full: refused up front under d2o's permissions; with --allow-all, no space left", async () => {
  const refused = await runD2o(["compress-inspect", "-m", STORIES, PROMPT, "--html", "/dev/full"]);
  assert.equal(refused.code, 3, refused.stderr);
  assert.equal(refused.stdout, "");
  assert.match(
    refused.stderr.trim(),
    /^d2o: Cannot write --html "\/dev\/full": d2o runs without the permission to open it \(Deno grants devices, \/proc and \/sys only with --allow-all\); write to a regular file$/,
  );
  const MAIN = new URL("../../main.ts", import.meta.url).pathname;
  const CONFIG = new URL("../../deno.json", import.meta.url).pathname;
  const all = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--config",
      CONFIG,
      "-A",
      MAIN,
      "compress-inspect",
      "-m",
      STORIES,
      PROMPT,
      "--html",
      "/dev/full",
      "--json",
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(all.stderr).trim();
  assert.equal(all.code, 3, stderr);
  assert.equal(stderr, `d2o: Cannot write --html "/dev/full": no space left on device`);
});

Deno.test("whyNot says what went wrong in words, never the temporary file or an OS error number", () => {
  const osError = (code: string, message: string) => Object.assign(new Error(message), { code });
  const cases: [unknown, string][] = [
    [
      new Deno.errors.NotFound("No such file or directory (os error 2): open '/x/.p.tmp'"),
      "its directory does not exist",
    ],
    [
      new Deno.errors.PermissionDenied("Permission denied (os error 13): open '/x/.p.tmp'"),
      "permission denied",
    ],
    [
      osError("EROFS", "Read-only file system (os error 30): open '/x/.p.html.1a2b3c4d.tmp'"),
      "the file system is read-only",
    ],
    [
      osError("ENOSPC", "No space left on device (os error 28): writefile '/dev/full'"),
      "no space left on device",
    ],
    [
      osError("EIO", "Input/output error (os error 5): writefile '/x/.p.html.1a2b3c4d.tmp'"),
      "input/output error",
    ],
  ];
  for (const [error, why] of cases) assert.equal(whyNot(error), why);
});
