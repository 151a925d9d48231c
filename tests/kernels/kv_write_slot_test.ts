import assert from "node:assert/strict";
import { KV_TYPES, type KvTypes, kvTypes, roundKv } from "../../src/gpu/ops/kv_elem.ts";
import { splitBudget } from "../../src/kv/budget.ts";
import { resolveKvOptions } from "../../src/kv/options.ts";
import { createKvPolicy } from "../../src/kv/registry.ts";
import { ReferenceKvLayer } from "../../src/reference/kv/kv_layer.ts";
import { makeRng, randn } from "../../src/reference/prng.ts";
import { gpuTestOptions } from "../_gpu.ts";
import { testRuntime } from "./_cases.ts";
import {
  assertSameLayer,
  GpuLayer,
  KV_TYPE_PAIRS,
  kvTypesName,
  snapshotTwin,
} from "./_kv_harness.ts";

interface Case {
  /** The policy: its score source gives the written token's score. */
  kv: "h2o" | "knorm";
  nHeadKv: number;
  headDim: number;
  slots: number;
  /** Tokens appended before the checked write. */
  filled: number;
}

function rows(rng: () => number, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => randn(rng));
}

// Tolerance: none. The written rows are exact (f32) or rounded to the nearest
// f16, ties to even, as the twin rounds them (f16); the rest of the layer is untouched.
// The written score is exact too: 0 (h2o), or minus the stored key's f32 norm rounded to
// bfloat16 (knorm), as the twin computes them.

/** Fills a twin with `filled` tokens (evicting), then checks one more write against it. */
async function check(c: Case, types: KvTypes, seed: number) {
  const rt = await testRuntime();
  const options = resolveKvOptions({ kv: c.kv, kvMin: 1 });
  const shape = { nHeadKv: c.nHeadKv, headDim: c.headDim, kvTypes: types };
  const twin = new ReferenceKvLayer(createKvPolicy(options), splitBudget(c.slots, 0.5, 0), shape);
  const rng = makeRng(seed);
  const n = c.nHeadKv * c.headDim;
  for (let t = 0; t < c.filled; t++) {
    const row = Float32Array.from({ length: c.nHeadKv * twin.nSlots }, () => rng());
    twin.step(rows(rng, n), rows(rng, n), row);
  }
  const gpu = new GpuLayer(rt, twin);
  gpu.load(snapshotTwin(twin));
  const k = rows(rng, n);
  const v = rows(rng, n);
  const before = snapshotTwin(twin);
  gpu.writeToken(k, v, c.filled);
  twin.append(k, v);
  const got = await gpu.read();
  // The write does not advance the free slots or the count (the evict op does).
  const want = { ...snapshotTwin(twin), free: before.free, count: before.count };
  assertSameLayer(got, want, "after the write", types);
  for (let h = 0; h < c.nHeadKv; h++) {
    const slot = twin.table.find(h, c.filled);
    const stored = roundKv(types.k, k.subarray(h * c.headDim, (h + 1) * c.headDim));
    const score = got.score[h * twin.nSlots + slot]!;
    if (c.kv === "h2o") assert.equal(score, 0);
    else {
      // Minus the norm at bfloat16 precision: within one bf16 step, the low 16 bits zero.
      const norm = Math.hypot(...stored);
      const bits = new Uint32Array(Float32Array.of(score).buffer)[0]!;
      assert.ok(
        Math.abs(score + norm) <= 2 ** -8 * norm,
        `head ${h}: score ${score}, norm ${norm}`,
      );
      assert.equal(bits & 0xffff, 0, `head ${h}: score ${score} is not a bfloat16`);
    }
    assert.deepEqual(
      got.keys.subarray(
        (h * twin.nSlots + slot) * c.headDim,
        (h * twin.nSlots + slot + 1) * c.headDim,
      ),
      stored,
    );
  }
  gpu.destroy();
}

const cases: Case[] = [
  { kv: "h2o", nHeadKv: 1, headDim: 4, slots: 3, filled: 0 },
  { kv: "h2o", nHeadKv: 2, headDim: 8, slots: 5, filled: 3 },
  { kv: "h2o", nHeadKv: 3, headDim: 12, slots: 6, filled: 17 },
  { kv: "h2o", nHeadKv: 8, headDim: 128, slots: 40, filled: 45 },
  { kv: "knorm", nHeadKv: 2, headDim: 8, slots: 5, filled: 3 },
  { kv: "knorm", nHeadKv: 8, headDim: 128, slots: 40, filled: 45 },
];

for (const types of KV_TYPE_PAIRS) {
  cases.forEach((c, i) => {
    Deno.test({
      name:
        `kv_write_slot(${
          kvTypesName(types)
        }, ${c.kv}, nHeadKv=${c.nHeadKv}, headDim=${c.headDim}, C=${c.slots}, ` +
        `after ${c.filled} tokens) writes into each head's free slot`,
      ...gpuTestOptions,
      fn: () => check(c, types, 100 + i),
    });
  });
}

for (const kvType of KV_TYPES) {
  Deno.test({
    name: `dbg_kv_write_slot(${kvType}, nHeadKv=2, headDim=4, slots=2): free slots [1, 0] ` +
      "receive position 5",
    ...gpuTestOptions,
    async fn() {
      const rt = await testRuntime();
      const twin = new ReferenceKvLayer(
        createKvPolicy(resolveKvOptions({ kv: "h2o" })),
        { slots: 1, heavy: 0, recent: 1, sinks: 0, compressed: true },
        { nHeadKv: 2, headDim: 4, kvTypes: kvTypes(kvType) },
      );
      const gpu = new GpuLayer(rt, twin);
      const row = (x: number) => [x, x + 0.5, -x, 2 * x];
      gpu.load({
        pos: new Int32Array([4, -1, -1, 4]),
        score: new Float32Array([0.5, 0.25, 0.75, 0.5]),
        tau: NaN,
        count: 1,
        free: new Uint32Array([1, 0]),
        keys: new Float32Array([...row(1), ...row(2), ...row(3), ...row(4)]),
        values: new Float32Array([...row(5), ...row(6), ...row(7), ...row(8)]),
      });
      gpu.writeToken(
        new Float32Array([...row(10), ...row(20)]),
        new Float32Array([...row(30), ...row(40)]),
        5,
      );
      const got = await gpu.read();
      assert.deepEqual([...got.pos], [4, 5, 5, 4]);
      assert.deepEqual([...got.score], [0.5, 0, 0, 0.5]);
      assert.deepEqual([...got.keys], [...row(1), ...row(10), ...row(20), ...row(4)]);
      assert.deepEqual([...got.values], [...row(5), ...row(30), ...row(40), ...row(8)]);
      gpu.destroy();
    },
  });
}
