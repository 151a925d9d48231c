import assert from "node:assert/strict";
import { FREE, SlotTable } from "../../../src/reference/kv/slot_table.ts";

Deno.test("SlotTable hands out the lowest free slot and reuses a released one", () => {
  const t = new SlotTable(2, 3);
  for (let p = 0; p < 3; p++) t.occupy(0, t.freeSlot(0), p);
  assert.equal(t.freeSlot(0), -1);
  assert.equal(t.freeSlot(1), 0);
  t.release(0, 1);
  assert.equal(t.freeSlot(0), 1);
  assert.equal(t.occupancy(0), 2);
  assert.equal(t.position(0, 1), FREE);
  t.occupy(0, 1, 3);
  assert.deepEqual([...t.pos], [0, 3, 2, -1, -1, -1]);
  assert.equal(t.find(0, 3), 1);
  assert.equal(t.find(1, 3), -1);
});

Deno.test("SlotTable.addScore() accumulates in f32 and a release clears the score", () => {
  const t = new SlotTable(1, 2);
  t.occupy(0, 0, 0, 0.1);
  t.addScore(0, 0, 0.2);
  assert.equal(t.scoreOf(0, 0), Math.fround(Math.fround(0.1) + 0.2));
  t.release(0, 0);
  assert.equal(t.scoreOf(0, 0), 0);
});

Deno.test("SlotTable rejects writing a taken slot, a duplicate position, and freeing a free slot", () => {
  const t = new SlotTable(1, 3);
  t.occupy(0, 0, 5);
  assert.throws(() => t.occupy(0, 0, 6), /slot 0 of head 0: it holds position 5/);
  assert.throws(() => t.occupy(0, 1, 5), /position 5 to head 0: it is already cached/);
  assert.throws(() => t.release(0, 2), /slot 2 of head 0: it is free/);
  assert.throws(() => t.addScore(0, 2, 1), /slot 2 of head 0: it is free/);
  assert.throws(() => t.occupy(0, 3, 1), /slot 3: expected 0 to 2/);
  assert.throws(() => t.occupancy(1), /KV head 1: expected 0 to 0/);
  assert.throws(() => t.occupy(0, 1, -2), /position -2: expected a non-negative i32/);
  assert.throws(() => new SlotTable(0, 4), RangeError);
});

Deno.test("SlotTable.clear() frees every slot", () => {
  const t = new SlotTable(2, 2);
  t.occupy(1, 1, 9, 3);
  t.clear();
  assert.deepEqual([...t.pos], [-1, -1, -1, -1]);
  assert.deepEqual([...t.score], [0, 0, 0, 0]);
});
