import assert from "node:assert/strict";
import { ensureFixtures } from "../../fixtures/make_fixtures.ts";
import { runD2o } from "./_run.ts";

const FIXTURE = (await ensureFixtures()).get("llama-q8_0")!;
const MAIN = new URL("../../main.ts", import.meta.url).pathname;

Deno.test("-f /dev/stdin reads the piped prompt with the default permissions", async () => {
  const direct = await runD2o(["tokenize", "-m", FIXTURE, "--json", "Once upon a time"]);
  for (const path of ["/dev/stdin", "/dev/fd/0"]) {
    const piped = await runD2o(
      ["tokenize", "-m", FIXTURE, "--json", "-f", path],
      "Once upon a time",
    );
    assert.equal(piped.code, 0, piped.stderr);
    assert.deepEqual(JSON.parse(piped.stdout), JSON.parse(direct.stdout));
  }
});

Deno.test("> /dev/full exits 3 with one line: cannot write output", async () => {
  for (const args of [["info", FIXTURE], ["tokenize", "-m", FIXTURE, "Once"]]) {
    const cmd = `"${Deno.execPath()}" run --allow-read --allow-write --allow-env "${MAIN}" ` +
      `${args.map((a) => `"${a}"`).join(" ")} > /dev/full`;
    const out = await new Deno.Command("bash", { args: ["-c", cmd], stderr: "piped" }).output();
    const stderr = new TextDecoder().decode(out.stderr).trim();
    assert.equal(out.code, 3, stderr);
    assert.match(stderr, /^d2o: Cannot write output: No space left on device$/);
  }
});

Deno.test("profile --text /dev/stdin scores the piped text with the default permissions", async () => {
  const text =
    "Once upon a time, there was a little girl who loved to play in the park with her dog.";
  const r = await runD2o(
    [
      "profile",
      "-m",
      FIXTURE,
      "-p",
      "0",
      "-n",
      "0",
      "--kv",
      "full",
      "--text",
      "/dev/stdin",
      "-o",
      "json",
    ],
    text,
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /"stdin"/);
});

Deno.test("--help and --version > /dev/full exit 3 with one line (was an internal error, exit 1)", async () => {
  for (const args of [["generate", "--help"], ["--help"], ["--version"], ["-V"]]) {
    const cmd = `"${Deno.execPath()}" run --allow-read --allow-write --allow-env "${MAIN}" ` +
      `${args.join(" ")} > /dev/full`;
    const out = await new Deno.Command("bash", { args: ["-c", cmd], stderr: "piped" }).output();
    const stderr = new TextDecoder().decode(out.stderr).trim();
    assert.equal(out.code, 3, `${args.join(" ")}: ${stderr}`);
    assert.match(stderr, /^d2o: Cannot write output: No space left on device$/);
  }
});

Deno.test("--version names the program, its version, the Deno runtime and the WebGPU adapter", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  const r = await runD2o(["--version"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, "");
  const [name, runtime, gpu, ...rest] = r.stdout.split("\n");
  assert.equal(name, `d2o ${config.version}`);
  const { deno, v8, typescript } = Deno.version;
  assert.equal(runtime, `Deno ${deno} (V8 ${v8}, TypeScript ${typescript})`);
  // The adapter's description (lavapipe: "llvmpipe (LLVM …), a software fallback adapter"), or why none.
  assert.match(gpu!, /^WebGPU: \S/);
  assert.deepEqual(rest, [""]);
});
