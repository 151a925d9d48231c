import assert from "node:assert/strict";
import { meanStd, quantile } from "../../src/profile/stats.ts";

Deno.test("meanStd() gives the mean and the sample standard deviation", () => {
  const { mean, std } = meanStd([2, 4, 4, 4, 5, 5, 7, 9]);
  assert.equal(mean, 5);
  assert.ok(Math.abs(std - Math.sqrt(32 / 7)) < 1e-12);
  assert.deepEqual(meanStd([3]), { mean: 3, std: 0 });
  assert.throws(() => meanStd([]), RangeError);
});

Deno.test("quantile() interpolates between closest ranks", () => {
  assert.equal(quantile([5, 1, 3], 0.5), 3);
  assert.equal(quantile([1, 2, 3, 4], 0.5), 2.5);
  assert.ok(Math.abs(quantile([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 0.9) - 90) < 1e-12);
  assert.equal(quantile([7], 0.9), 7);
  assert.throws(() => quantile([1], 1.5), RangeError);
});
