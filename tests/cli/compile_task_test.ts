import assert from "node:assert/strict";

const SCRIPT = new URL("../../scripts/compile.ts", import.meta.url).pathname;

/** Runs the compile task's script with `args` and, with `offline`, a proxy that refuses every connection. */
async function compile(args: string[], offline: boolean) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCRIPT, ...args],
    // A proxy that refuses every connection stands for "no network" (a cached runtime still works).
    env: offline
      ? { HTTPS_PROXY: "http://127.0.0.1:9", HTTP_PROXY: "http://127.0.0.1:9", NO_COLOR: "1" }
      : { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

/** The files and folders under `dir`, relative, sorted. */
function tree(dir: string, prefix = ""): string[] {
  return [...Deno.readDirSync(dir)].flatMap((e) => [
    `${prefix}${e.name}`,
    ...(e.isDirectory ? tree(`${dir}/${e.name}`, `${prefix}${e.name}/`) : []),
  ]).sort();
}

Deno.test("deno task compile without network says why in one line and leaves no dist/ behind", async () => {
  const dir = await Deno.makeTempDir({ prefix: "d2o-compile-" });
  try {
    const r = await compile(["--output", `${dir}/dist/d2o`], true);
    if (r.code === 0) {
      assert.deepEqual(
        tree(dir),
        ["dist", "dist/d2o"],
        "a cached runtime: the binary, nothing else",
      );
      return;
    }
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stderr.trim().split("\n").filter((l) => !/^(Check|Compile|Download) /.test(l));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0]!,
      /^compile: Deno's runtime could not be downloaded \(deno compile fetches denort .*\): .*; connect to the network and run again, or set DENORT_BIN/,
    );
    assert.doesNotMatch(r.stderr, /temporary file|os error/);
    assert.deepEqual(tree(dir), [], "no half-written binary and no empty dist/ are left");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task compile into a folder it cannot make fails in one line, leaving nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "d2o-compile-" });
  try {
    await Deno.writeTextFile(`${dir}/file`, "in the way");
    const r = await compile(["--output", `${dir}/file/dist/d2o`], true);
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stderr.trim().split("\n").filter((l) => !/^(Check|Compile|Download) /.test(l));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^compile: /);
    assert.deepEqual(tree(dir), ["file"]);
    assert.equal(await Deno.readTextFile(`${dir}/file`), "in the way");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task compile takes only --output PATH", async () => {
  const r = await compile(["--frobnicate"], true);
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr.trim(),
    "compile: usage: deno task compile [--output PATH] (default dist/d2o)",
  );
});
