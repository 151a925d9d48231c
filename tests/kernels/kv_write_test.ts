import assert from "node:assert/strict";
import { createKvWrite } from "../../src/gpu/ops/kv_write.ts";
import { gpuTestOptions } from "../_gpu.ts";
import { stepBuffer } from "./_step.ts";
import { randomValues, readF32, storageOf, submitPass, testRuntime } from "./_cases.ts";

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

async function check(c: Case, seed: number) {
  const r = await testRuntime();
  const rowLen = c.maxTokens * c.nHeadKv * c.headDim;
  const cacheLen = c.nHeadKv * c.nSlots * c.headDim;
  const k = randomValues(seed, rowLen);
  const v = randomValues(seed + 1, rowLen);
  const kc = randomValues(seed + 2, cacheLen);
  const vc = randomValues(seed + 3, cacheLen);
  const bufs = [k, v, kc, vc].map((d, i) => storageOf(r.device, d, `b${i}`));
  const step = stepBuffer(r.device, {
    pos: c.pos,
    nTokens: c.tokens,
    nKv: c.pos + c.tokens,
    seed: 0,
  });
  const [kBuf, vBuf, kcBuf, vcBuf] = bufs as [GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer];
  submitPass(r.device, [
    createKvWrite(r, { k: kBuf, v: vBuf, kCache: kcBuf, vCache: vcBuf, ...c, step }),
  ]);
  assert.deepEqual(await readF32(r.device, kcBuf, cacheLen), placed(kc, k, c));
  assert.deepEqual(await readF32(r.device, vcBuf, cacheLen), placed(vc, v, c));
  for (const b of [...bufs, step]) b.destroy();
}

const cases: Case[] = [
  { tokens: 1, maxTokens: 1, nHeadKv: 1, headDim: 4, nSlots: 1, pos: 0 },
  { tokens: 3, maxTokens: 5, nHeadKv: 2, headDim: 8, nSlots: 11, pos: 4 },
  { tokens: 17, maxTokens: 17, nHeadKv: 4, headDim: 64, nSlots: 40, pos: 23 },
  { tokens: 1, maxTokens: 1, nHeadKv: 8, headDim: 128, nSlots: 1030, pos: 1029 },
];

for (const c of cases) {
  Deno.test({
    name: `kv_write(T=${c.tokens}/${c.maxTokens}, nHeadKv=${c.nHeadKv}, headDim=${c.headDim}, ` +
      `slots=${c.nSlots}, pos0=${c.pos}) places rows at their positions`,
    ...gpuTestOptions,
    fn: () => check(c, c.nSlots + c.pos),
  });
}

Deno.test({
  name: "dbg_kv_write(T=2, nHeadKv=1, headDim=1, slots=3, pos0=1): [a, b] lands in slots 1 and 2",
  ...gpuTestOptions,
  async fn() {
    const r = await testRuntime();
    const k = storageOf(r.device, new Float32Array([5, 6]), "k");
    const v = storageOf(r.device, new Float32Array([7, 8]), "v");
    const kCache = storageOf(r.device, new Float32Array([1, 1, 1]), "k_cache");
    const vCache = storageOf(r.device, new Float32Array([2, 2, 2]), "v_cache");
    const step = stepBuffer(r.device, { pos: 1, nTokens: 2, nKv: 3, seed: 0 });
    const shape = { nHeadKv: 1, headDim: 1, nSlots: 3, maxTokens: 2 };
    submitPass(r.device, [createKvWrite(r, { k, v, kCache, vCache, step, ...shape })]);
    assert.deepEqual([...await readF32(r.device, kCache, 3)], [1, 5, 6]);
    assert.deepEqual([...await readF32(r.device, vCache, 3)], [2, 7, 8]);
    for (const b of [k, v, kCache, vCache, step]) b.destroy();
  },
});
