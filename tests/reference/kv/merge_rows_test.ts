import assert from "node:assert/strict";
import { mergeRows } from "../../../src/reference/kv/merge_rows.ts";

Deno.test("mergeRows() writes the weighted sum of the target and its group into the target row", () => {
  const source = new Float32Array([1, 2, 10, 20, 100, 200]);
  const data = source.slice();
  mergeRows(data, source, 1, [0, 2], new Float32Array([0.5, 0.25, 0.25]), 2);
  assert.deepEqual([...data], [
    1,
    2,
    0.5 * 10 + 0.25 * 1 + 0.25 * 100,
    0.5 * 20 + 0.25 * 2 + 0.25 * 200,
    100,
    200,
  ]);
});

Deno.test("mergeRows() rejects weights that do not match the group", () => {
  assert.throws(
    () => mergeRows(new Float32Array(4), new Float32Array(4), 0, [1], new Float32Array(3), 2),
    /Cannot merge 1 rows with 3 weights: expected 2/,
  );
});
