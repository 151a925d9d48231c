import assert from "node:assert/strict";
import { kvTypes } from "../../src/gpu/ops/kv_elem.ts";
import { kvBytesPerToken } from "../../src/kv/cache.ts";
import { sequenceKvBytes } from "../../src/kv/memory_estimate.ts";
import { type KvOptionsInput, resolveKvOptions } from "../../src/kv/options.ts";

const SHAPE = { nLayer: 5, nHead: 4, nHeadKv: 2, headDim: 8 };
const PROMPT = 100;
const CAPACITY = 120;
const F32 = kvTypes("f32");

/** Slots per KV head summed over layers that a sequence is charged before its prompt runs. */
function slots(input: KvOptionsInput | undefined): number {
  const kv = input && resolveKvOptions({ kvBudget: 0.2, kvMin: 4, ...input });
  return sequenceKvBytes(kv, SHAPE, PROMPT, CAPACITY, F32) / kvBytesPerToken(SHAPE, F32);
}

Deno.test("sequenceKvBytes() charges the full cache its capacity in every layer", () => {
  assert.equal(slots(undefined), 5 * CAPACITY);
  assert.equal(slots({ kv: "full" }), 5 * CAPACITY);
});

Deno.test("sequenceKvBytes() charges an evicting policy C + 1 slots and a growing one what the prompt keeps plus the rest", () => {
  // 0.2 of 100 tokens: C = 20, plus the slot each new token takes before the eviction.
  assert.equal(slots({ kv: "h2o" }), 5 * 21);
  assert.equal(slots({ kv: "streaming" }), 5 * 21);
  // SnapKV grows from the 20 kept prompt tokens to the 20 positions still to come.
  assert.equal(slots({ kv: "snapkv" }), 5 * (20 + (CAPACITY - PROMPT)));
});

Deno.test("sequenceKvBytes() charges d2o the uniform plan of its total (no head variances before the prompt)", () => {
  assert.equal(slots({ kv: "d2o" }), 5 * 21);
  // --parity: layers 0, 1 and L−1 full; the others the code's floors N = M = ⌊100·0.2·0.5⌋.
  assert.equal(slots({ kv: "d2o", parity: true }), 3 * CAPACITY + 2 * 21);
  // --skip-layers replaces d2o's parity default.
  assert.equal(slots({ kv: "d2o", parity: true, skipLayers: "0" }), CAPACITY + 4 * 21);
});

Deno.test("sequenceKvBytes() counts the cache's element types: f16 halves every charge, f16 keys over f32 values take 3/4", () => {
  for (const input of [undefined, { kv: "d2o" }, { kv: "snapkv" }] as const) {
    const kv = input && resolveKvOptions({ kvBudget: 0.2, kvMin: 4, ...input });
    const bytes = (types: typeof F32) => sequenceKvBytes(kv, SHAPE, PROMPT, CAPACITY, types);
    assert.equal(bytes(kvTypes("f16")) * 2, bytes(F32), input?.kv ?? "plain");
    assert.equal(bytes(kvTypes("f16", "f32")) * 4, bytes(F32) * 3, input?.kv ?? "plain");
  }
  // 5 layers × 120 slots × (2 KV heads × 8 values) × (2 + 2 bytes)
  assert.equal(sequenceKvBytes(undefined, SHAPE, PROMPT, CAPACITY, kvTypes("f16")), 38400);
});
