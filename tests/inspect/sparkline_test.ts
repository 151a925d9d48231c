import assert from "node:assert/strict";
import { sparkline } from "../../src/inspect/sparkline.ts";

Deno.test("sparkline() maps the minimum to ▁, the maximum to █ and steps in between", () => {
  assert.equal(sparkline([3, 10, 3 + 7 / 2], 8), "▁█▅");
  assert.equal(sparkline([-1, -1, -1], 8), "▄▄▄", "a flat series sits at mid height");
  assert.equal(sparkline([], 8), "");
});

Deno.test("sparkline() averages a long series into width buckets", () => {
  const values = [0, 0, 0, 0, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5];
  assert.equal(sparkline(values, 3), "▁█▅");
  assert.equal([...sparkline(Array.from({ length: 1000 }, (_, i) => i), 16)].length, 16);
});

Deno.test("sparkline() rejects a width below 1", () => {
  assert.throws(() => sparkline([1], 0), {
    name: "RangeError",
    message: "Cannot draw a sparkline of width 0: expected a whole number ≥ 1",
  });
});
