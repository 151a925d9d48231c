import assert from "node:assert/strict";
import { type Bigram, BigramQueue } from "../../src/tokenizer/bigram_queue.ts";

/** A small seeded generator (mulberry32) so failures reproduce. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6D2B79F5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("BigramQueue pops the highest priority first and ties to the smallest left", () => {
  const next = random(7);
  const queue = new BigramQueue();
  const reference: Bigram[] = [];
  const out: Bigram = { priority: 0, left: 0, right: 0, size: 0 };
  // Interleave pushes and pops; compare with a sorted array after each pop.
  for (let step = 0; step < 5000; step++) {
    if (next() < 0.6 || reference.length === 0) {
      const entry = {
        priority: Math.floor(next() * 8) - 4, // few values: many ties
        left: Math.floor(next() * 100),
        right: 0,
        size: Math.floor(next() * 10),
      };
      entry.right = entry.left + 1;
      queue.push(entry.priority, entry.left, entry.right, entry.size);
      reference.push(entry);
    } else {
      reference.sort((a, b) => b.priority - a.priority || a.left - b.left);
      const expected = reference.shift()!;
      assert.equal(queue.pop(out), true);
      assert.deepEqual([out.priority, out.left], [expected.priority, expected.left]);
    }
    assert.equal(queue.length, reference.length);
  }
});

Deno.test("BigramQueue.pop() returns false when empty and clear() empties it", () => {
  const queue = new BigramQueue();
  const out: Bigram = { priority: 9, left: 9, right: 9, size: 9 };
  assert.equal(queue.pop(out), false);
  assert.deepEqual(out, { priority: 9, left: 9, right: 9, size: 9 });
  queue.push(1, 2, 3, 4);
  assert.equal(queue.pop(out), true);
  assert.deepEqual(out, { priority: 1, left: 2, right: 3, size: 4 });
  queue.push(1, 2, 3, 4);
  queue.clear();
  assert.equal(queue.length, 0);
});
