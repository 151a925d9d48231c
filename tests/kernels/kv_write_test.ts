import assert from "node:assert/strict";
import { type KvTypes, kvTypes, roundKv } from "../../src/gpu/ops/kv_elem.ts";
import { createKvWrite } from "../../src/gpu/ops/kv_write.ts";
import { gpuTestOptions } from "../_gpu.ts";
import { stepBuffer } from "./_step.ts";
import { randomValues, storageOf, submitPass, testRuntime } from "./_cases.ts";
import { KV_TYPE_PAIRS, kvStorageOf, kvTypesName, readKv } from "./_kv_harness.ts";

// Tolerance: none. The cache holds the new rows exactly (f32) or each value
// rounded to the nearest f16, ties to even (f16), as the twin rounds them.

interface Case {
  tokens: number;
  maxTokens: number;
  nHeadKv: number;
  headDim: number;
  nSlots: number;
  pos: number;
}

/** Expected cache: the old cache with rows t of the new K/V at [h][pos + t][:]. */
function placed(cache: Float32Array, rows: Float32Array, c: Case): Float32Array {
  const out = cache.slice();
  for (let t = 0; t < c.tokens; t++) {
    for (let h = 0; h < c.nHeadKv; h++) {
      for (let d = 0; d < c.headDim; d++) {
        out[(h * c.nSlots + c.pos + t) * c.headDim + d] =
          rows[(t * c.nHeadKv + h) * c.headDim + d]!;
      }
    }
  }
  return out;
}

async function check(c: Case, types: KvTypes, seed: number) {
  const r = await testRuntime();
  const rowLen = c.maxTokens * c.nHeadKv * c.headDim;
  const cacheLen = c.nHeadKv * c.nSlots * c.headDim;
  const k = randomValues(seed, rowLen);
  const v = randomValues(seed + 1, rowLen);
  const kc = roundKv(types.k, randomValues(seed + 2, cacheLen));
  const vc = roundKv(types.v, randomValues(seed + 3, cacheLen));
  const kBuf = storageOf(r.device, k, "k");
  const vBuf = storageOf(r.device, v, "v");
  const kcBuf = kvStorageOf(r.device, types.k, kc, "k_cache");
  const vcBuf = kvStorageOf(r.device, types.v, vc, "v_cache");
  const step = stepBuffer(r.device, {
    pos: c.pos,
    nTokens: c.tokens,
    nKv: c.pos + c.tokens,
    seed: 0,
  });
  submitPass(r.device, [
    createKvWrite(r, {
      k: kBuf,
      v: vBuf,
      kCache: kcBuf,
      vCache: vcBuf,
      kvTypes: types,
      ...c,
      step,
    }),
  ]);
  const gotK = await readKv(r.device, types.k, kcBuf, cacheLen);
  const gotV = await readKv(r.device, types.v, vcBuf, cacheLen);
  assert.deepEqual(gotK, placed(kc, roundKv(types.k, k), c));
  assert.deepEqual(gotV, placed(vc, roundKv(types.v, v), c));
  for (const b of [kBuf, vBuf, kcBuf, vcBuf, step]) b.destroy();
}

const cases: Case[] = [
  { tokens: 1, maxTokens: 1, nHeadKv: 1, headDim: 4, nSlots: 1, pos: 0 },
  { tokens: 3, maxTokens: 5, nHeadKv: 2, headDim: 8, nSlots: 11, pos: 4 },
  { tokens: 5, maxTokens: 5, nHeadKv: 3, headDim: 12, nSlots: 9, pos: 3 },
  { tokens: 17, maxTokens: 17, nHeadKv: 4, headDim: 64, nSlots: 40, pos: 23 },
  { tokens: 1, maxTokens: 1, nHeadKv: 8, headDim: 128, nSlots: 1030, pos: 1029 },
];

for (const types of KV_TYPE_PAIRS) {
  for (const c of cases) {
    Deno.test({
      name: `kv_write(${kvTypesName(types)}, T=${c.tokens}/${c.maxTokens}, nHeadKv=${c.nHeadKv}, ` +
        `headDim=${c.headDim}, slots=${c.nSlots}, pos0=${c.pos}) places rows at their positions`,
      ...gpuTestOptions,
      fn: () => check(c, types, c.nSlots + c.pos),
    });
  }
}

Deno.test({
  name: "dbg_kv_write(T=2, nHeadKv=1, headDim=4, slots=3, pos0=1): rows a, b land in slots 1 and 2",
  ...gpuTestOptions,
  async fn() {
    const r = await testRuntime();
    const k = storageOf(r.device, new Float32Array([5, 6, 7, 8, 9, 10, 11, 12]), "k");
    const v = storageOf(r.device, new Float32Array([-5, -6, -7, -8, -9, -10, -11, -12]), "v");
    const kCache = storageOf(r.device, new Float32Array(12).fill(1), "k_cache");
    const vCache = storageOf(r.device, new Float32Array(12).fill(2), "v_cache");
    const step = stepBuffer(r.device, { pos: 1, nTokens: 2, nKv: 3, seed: 0 });
    const shape = { nHeadKv: 1, headDim: 4, nSlots: 3, maxTokens: 2 };
    submitPass(r.device, [createKvWrite(r, { k, v, kCache, vCache, step, ...shape })]);
    assert.deepEqual([...await readKv(r.device, "f32", kCache, 12)], [
      ...[1, 1, 1, 1],
      ...[5, 6, 7, 8],
      ...[9, 10, 11, 12],
    ]);
    assert.deepEqual([...await readKv(r.device, "f32", vCache, 12)], [
      ...[2, 2, 2, 2],
      ...[-5, -6, -7, -8],
      ...[-9, -10, -11, -12],
    ]);
    for (const b of [k, v, kCache, vCache, step]) b.destroy();
  },
});

Deno.test({
  name: "dbg_kv_write(f16): values round to the nearest half, ties to even, 2 bytes each",
  ...gpuTestOptions,
  async fn() {
    const r = await testRuntime();
    // 1 + 2⁻¹¹ is a tie between 1 and 1 + 2⁻¹⁰ (even: 1); 1 + 3·2⁻¹¹ a tie between
    // 1 + 2⁻¹⁰ and 1 + 2⁻⁹ (even: 1 + 2⁻⁹); 0.1 is 0.0999755859375 in f16; 65504 is the largest half.
    const row = new Float32Array([1 + 2 ** -11, 1 + 3 * 2 ** -11, 0.1, -65504]);
    const k = storageOf(r.device, row, "k");
    const kCache = storageOf(r.device, new Uint16Array(8).fill(0x3c00), "k_cache");
    const vCache = storageOf(r.device, new Uint16Array(8), "v_cache");
    const step = stepBuffer(r.device, { pos: 1, nTokens: 1, nKv: 2, seed: 0 });
    const shape = { nHeadKv: 1, headDim: 4, nSlots: 2, maxTokens: 1 };
    submitPass(r.device, [
      createKvWrite(r, { k, v: k, kCache, vCache, kvTypes: kvTypes("f16"), step, ...shape }),
    ]);
    const want = [1, 1, 1, 1, 1, 1 + 2 ** -9, 0.0999755859375, -65504];
    assert.deepEqual([...await readKv(r.device, "f16", kCache, 8)], want);
    assert.deepEqual([...await readKv(r.device, "f16", vCache, 8)], [0, 0, 0, 0, ...want.slice(4)]);
    for (const b of [k, kCache, vCache, step]) b.destroy();
  },
});

Deno.test({
  name: "createKvWrite() rejects a head size that is not a multiple of 4 and a short f16 cache",
  ...gpuTestOptions,
  async fn() {
    const r = await testRuntime();
    const b = storageOf(r.device, new Float32Array(64), "b");
    const step = stepBuffer(r.device, { pos: 0, nTokens: 1, nKv: 1, seed: 0 });
    const base = { k: b, v: b, kCache: b, vCache: b, nHeadKv: 1, maxTokens: 1, step };
    assert.throws(
      () => createKvWrite(r, { ...base, headDim: 6, nSlots: 2 }),
      /head size 6 is not a multiple of 4/,
    );
    // 256 bytes hold 128 halves: 2 heads × 16 slots × 4 = 128 fit, 17 slots do not.
    const f16 = { ...base, nHeadKv: 2, headDim: 4, kvTypes: kvTypes("f16") };
    createKvWrite(r, { ...f16, nSlots: 16 }).destroy();
    assert.throws(
      () => createKvWrite(r, { ...f16, nSlots: 17 }),
      /f16 cache "k_cache" holds 128 elements, expected 2×17×4 = 136/,
    );
    for (const x of [b, step]) x.destroy();
  },
});
