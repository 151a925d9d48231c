import assert from "node:assert/strict";
import { layerShares, layerStatistic, MINMAX_EPS } from "../../src/kv/layer_statistic.ts";

Deno.test("layerStatistic() min-max normalises the variances over a layer's heads and averages them", () => {
  const f = layerStatistic([[2, 4, 6], [5, 5, 5]], "head-minmax");
  const r = 4 + MINMAX_EPS;
  assert.ok(Math.abs(f[0]! - (0 + 2 / r + 4 / r) / 3) < 1e-12);
  assert.equal(f[1], 0);
});

Deno.test("layerStatistic() raw mode min-max normalises the mean variances across layers", () => {
  const f = layerStatistic([[1, 3], [10, 10], [4, 6]], "raw");
  const r = 8 + MINMAX_EPS;
  assert.deepEqual([...f], [0, 8 / r, 3 / r]);
});

Deno.test("layerStatistic() rejects a layer without heads or with a non-finite variance", () => {
  assert.throws(() => layerStatistic([[]], "head-minmax"), /layer 0: no heads/);
  assert.throws(() => layerStatistic([[1], [NaN]], "raw"), /layer 1: a variance is not finite/);
});

Deno.test("layerShares() is L·softmax(−F): lower F, larger share, summing to L", () => {
  const a = layerShares(new Float64Array([0, 1]));
  assert.ok(Math.abs(a[0]! - 2 / (1 + Math.exp(-1))) < 1e-12);
  assert.ok(Math.abs(a[0]! + a[1]! - 2) < 1e-12);
  // F in [0, 1]: the largest and smallest shares differ by at most e.
  assert.ok(Math.abs(a[0]! / a[1]! - Math.E) < 1e-12);
});
