import assert from "node:assert/strict";
import { ensureFixtures } from "../../fixtures/make_fixtures.ts";
import { runD2o } from "./_run.ts";

const FIXTURE = (await ensureFixtures()).get("llama-q8_0")!; // trained context 512

Deno.test("-c 10000000 is refused up front in our words (exit 6), not by a WebGPU validation error", async () => {
  for (const kv of ["full", "d2o"]) {
    const started = performance.now();
    const r = await runD2o([
      "generate",
      "-m",
      FIXTURE,
      "-c",
      "10000000",
      "--kv",
      kv,
      "-n",
      "2",
      "Once",
    ]);
    assert.equal(r.code, 6, r.stderr);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0]!,
      /^d2o: Cannot use a context of 10000000 tokens: .* at most \d+ .*; lower -c\/--ctx$/,
    );
    assert.doesNotMatch(r.stderr, /WebGPU|validation|binding/i);
    assert.ok(performance.now() - started < 10_000, "refused before the upload");
  }
});

Deno.test("a context past the trained one warns once, up front", async () => {
  const r = await runD2o([
    "generate",
    "-m",
    FIXTURE,
    "-c",
    "600",
    "--temp",
    "0",
    "-n",
    "3",
    "Once",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const warnings = r.stderr.trim().split("\n").filter((l) => /warning/.test(l));
  assert.equal(warnings.length, 1, r.stderr);
  assert.match(warnings[0]!, /a context of 600 tokens is past the model's trained context of 512/);
  const inside = await runD2o([
    "generate",
    "-m",
    FIXTURE,
    "-c",
    "512",
    "--temp",
    "0",
    "-n",
    "3",
    "Once",
  ]);
  assert.equal(inside.stderr, "");
});

Deno.test("a context too long for a kernel's grid is a limit in our words (exit 6), not an internal error", async () => {
  // Head size 64: the compression kernel fills at most 65535 slots of a layer kept whole.
  const r = await runD2o([
    "generate",
    "-m",
    FIXTURE,
    "-c",
    "100000",
    "--kv",
    "full",
    "-n",
    "2",
    "Once",
  ]);
  assert.equal(r.code, 6, r.stderr);
  assert.match(
    r.stderr,
    /^d2o: Cannot use a context of 100000 tokens for a layer kept whole: .*; lower -c\/--ctx$/m,
  );
  assert.doesNotMatch(r.stderr, /internal error/);
});
