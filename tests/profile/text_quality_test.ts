import assert from "node:assert/strict";
import { resolvePrefix } from "../../src/profile/text_quality.ts";
import { UsageError } from "../../src/errors.ts";

Deno.test("resolvePrefix() defaults to half the text and accepts BOS alone", () => {
  assert.equal(resolvePrefix(undefined, 1449), 724);
  assert.equal(resolvePrefix(1, 1449), 1);
  assert.equal(resolvePrefix(1448, 1449), 1448);
});

Deno.test("resolvePrefix() rejects a prefix that leaves nothing to score", () => {
  assert.throws(
    () => resolvePrefix(1449, 1449),
    (e: unknown) =>
      e instanceof UsageError && e.message.includes("--prefix") && e.message.includes("1 to 1448"),
  );
  assert.throws(() => resolvePrefix(undefined, 1), UsageError);
});
