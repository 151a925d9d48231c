import assert from "node:assert/strict";
import { pcgHash, randomUnit } from "../../src/sample/random.ts";

Deno.test("pcgHash() matches the published PCG-RXS-M-XS hash", () => {
  // Reference values computed by hand from the definition with 32-bit wrap-around:
  // state = v·747796405 + 2891336453; word = ((state >> ((state >> 28) + 4)) ^ state)·277803737;
  // hash = (word >> 22) ^ word.
  const reference = (v: number) => {
    const state = (BigInt(v) * 747796405n + 2891336453n) & 0xffffffffn;
    const word = (((state >> ((state >> 28n) + 4n)) ^ state) * 277803737n) & 0xffffffffn;
    return Number((word >> 22n) ^ word);
  };
  for (const v of [0, 1, 2, 0x7fffffff, 0xffffffff, 123456789]) {
    assert.equal(pcgHash(v), reference(v));
  }
});

Deno.test("randomUnit() is uniform on [0, 1) across counters", () => {
  const bins = new Array<number>(10).fill(0);
  for (let c = 0; c < 20000; c++) {
    const u = randomUnit(99, c);
    assert.ok(u >= 0 && u < 1);
    bins[Math.floor(u * 10)]!++;
  }
  // Each bin expects 2000 (sd ≈ 42); allow 5 sd.
  for (const b of bins) assert.ok(Math.abs(b - 2000) < 210, `bin ${b}`);
  assert.notEqual(randomUnit(1, 0), randomUnit(2, 0));
});
