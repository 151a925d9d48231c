import assert from "node:assert/strict";
import { dirname, relative } from "node:path";
import { ensureFixtures } from "../../fixtures/make_fixtures.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const FIXTURE = (await ensureFixtures()).get("llama-q8_0")!;

Deno.test("deno task d2o resolves relative paths from the caller's directory", async () => {
  // Stand in the directory above the model, as a user would, and name it relatively.
  const cwd = dirname(dirname(FIXTURE));
  const model = relative(cwd, FIXTURE);
  assert.ok(!model.startsWith("/") && !model.startsWith(".."), model);
  assert.notEqual(cwd.replace(/\/$/, ""), ROOT.replace(/\/$/, ""));
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "--config", `${ROOT}deno.json`, "d2o", "info", model, "--json"],
    cwd,
    stdout: "piped",
    stderr: "piped",
    // As from a shell: no INIT_CWD inherited from an outer `deno task test` (deno task keeps one
    // that is already set, as npm does).
    clearEnv: true,
    env: { ...withoutInitCwd(Deno.env.toObject()), NO_COLOR: "1" },
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  const info = JSON.parse(new TextDecoder().decode(out.stdout));
  assert.equal(info.architecture, "llama");
  assert.equal(info.file, model);
});

function withoutInitCwd(env: Record<string, string>): Record<string, string> {
  const { INIT_CWD: _, ...rest } = env;
  return rest;
}
