import assert from "node:assert/strict";
import { gridFor, MAX_GROUPS_PER_DIM } from "../../../src/gpu/ops/op_support.ts";

Deno.test("gridFor() covers the workgroups within the per-dimension limit", () => {
  for (const groups of [1, 100, MAX_GROUPS_PER_DIM, MAX_GROUPS_PER_DIM + 1, 200000]) {
    const [x, y] = gridFor(groups);
    assert.ok(x <= MAX_GROUPS_PER_DIM && x * y >= groups && x * (y - 1) < groups, `${groups}`);
  }
});
