import assert from "node:assert/strict";
import { cosineF32, nearestSlot } from "../../../src/reference/kv/similarity.ts";
import { makeRng, randn } from "../../../src/reference/prng.ts";

Deno.test("cosineF32() matches the f64 cosine and is 0 for a zero vector", () => {
  const rng = makeRng(9);
  for (let trial = 0; trial < 50; trial++) {
    const n = 1 + Math.floor(rng() * 130);
    const a = Float32Array.from({ length: n }, () => randn(rng));
    const b = Float32Array.from({ length: n }, () => randn(rng));
    let dot = 0;
    for (let i = 0; i < n; i++) dot += a[i]! * b[i]!;
    const want = dot / (Math.hypot(...a) * Math.hypot(...b));
    const got = cosineF32(a, 0, b, 0, n);
    assert.ok(Math.abs(got - want) < 1e-5, `n=${n}: ${got} vs ${want}`);
    assert.equal(got, Math.fround(got));
  }
  assert.equal(cosineF32(new Float32Array([0, 0]), 0, new Float32Array([1, 2]), 0, 2), 0);
});

Deno.test("nearestSlot() breaks a similarity tie toward the older position, not the lower slot", () => {
  // Slots 0 and 1 hold the same key; slot 1 holds the older position.
  const table = {
    nSlots: 3,
    headDim: 2,
    pos: new Int32Array([7, 3, 9]),
    keys: new Float32Array([1, 0, 1, 0, 2, 0.5]),
  };
  const near = nearestSlot(table, 0, 2, (s) => s !== 2);
  assert.equal(near.slot, 1);
  assert.equal(near.similarity, cosineF32(table.keys, 4, table.keys, 0, 2));
  assert.deepEqual(nearestSlot(table, 0, 2, () => false), { slot: -1, similarity: -Infinity });
});
