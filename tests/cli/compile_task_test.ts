import assert from "node:assert/strict";

const SCRIPT = new URL("../../scripts/compile.ts", import.meta.url).pathname;

Deno.test("deno task compile without network says Deno's runtime could not be downloaded", async () => {
  const dir = await Deno.makeTempDir({ prefix: "d2o-compile-" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", SCRIPT, "--output", `${dir}/d2o`],
      // A proxy that refuses every connection stands for "no network" (a cached runtime still works).
      env: { HTTPS_PROXY: "http://127.0.0.1:9", HTTP_PROXY: "http://127.0.0.1:9", NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    const left = [...Deno.readDirSync(dir)].map((e) => e.name);
    if (out.code === 0) {
      assert.deepEqual(left, ["d2o"], "a cached runtime: the binary, nothing else");
      return;
    }
    assert.equal(out.code, 1, stderr);
    assert.match(stderr, /^compile: Deno's runtime could not be downloaded/m);
    assert.doesNotMatch(stderr, /temporary file/);
    assert.deepEqual(left, [], "no half-written binary is left");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
