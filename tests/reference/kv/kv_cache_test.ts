import assert from "node:assert/strict";
import { resolveKvOptions } from "../../../src/kv/options.ts";
import { createKvPolicy } from "../../../src/kv/registry.ts";
import { ReferenceKvCache } from "../../../src/reference/kv/kv_cache.ts";

const SHAPE = { nLayer: 5, nHead: 4, nHeadKv: 2, headDim: 8 };

Deno.test("ReferenceKvCache in exact d2o mode allocates the nominal budget plus one free slot per layer", () => {
  const kv = createKvPolicy(resolveKvOptions({ kvBudget: 0.2, kvMin: 1 }));
  const plan = kv.plan(SHAPE, {
    promptLength: 500,
    capacity: 600,
    headVariance: [[1, 2, 3, 4], [4, 4, 1, 1], [0, 1, 0, 1], [2, 2, 2, 9], [5, 1, 5, 1]],
  });
  const cache = new ReferenceKvCache(kv, plan, SHAPE);
  // 20% of 500 tokens in each of 5 layers: 500 slots, + 5 free slots.
  assert.equal(cache.slotCount(), 0.2 * 500 * 5 + 5);
});

Deno.test("ReferenceKvCache with full allocates the capacity in every layer", () => {
  const kv = createKvPolicy(resolveKvOptions({ kv: "full" }));
  const cache = new ReferenceKvCache(kv, kv.plan(SHAPE, { promptLength: 10, capacity: 64 }), SHAPE);
  assert.equal(cache.slotCount(), 5 * 64);
});

Deno.test("ReferenceKvCache.reset() empties every layer", () => {
  const kv = createKvPolicy(resolveKvOptions({ kv: "h2o", kvBudget: 4, kvMin: 1 }));
  const cache = new ReferenceKvCache(kv, kv.plan(SHAPE, { promptLength: 6, capacity: 64 }), SHAPE);
  for (const layer of cache.layers) {
    layer.prefill(
      new Float32Array(2 * 6 * 8),
      new Float32Array(2 * 6 * 8),
      new Float32Array(12),
      6,
    );
  }
  assert.ok(cache.layers.every((l) => l.table.occupancy(0) === 4));
  cache.reset();
  assert.ok(cache.layers.every((l) => l.table.occupancy(1) === 0 && l.newestPos === -1));
});
