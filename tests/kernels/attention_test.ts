import assert from "node:assert/strict";
import { createAttentionDecode, createAttentionPrefill } from "../../src/gpu/ops/attention.ts";
import { KV_TYPES, type KvTypes, kvTypes, roundKv } from "../../src/gpu/ops/kv_elem.ts";
import { attention, type AttentionShape } from "../../src/reference/attention.ts";
import { attentionScores } from "../../src/reference/attention_scores.ts";
import { gpuTestOptions } from "../_gpu.ts";
import { oracleTensor } from "./_oracle_layer0.ts";
import { stepBuffer } from "./_step.ts";
import { compare, randomValues, readF32, storageOf, submitPass, testRuntime } from "./_cases.ts";
import { KV_TYPE_PAIRS, kvStorageOf, kvTypesName } from "./_kv_harness.ts";

// f32 online softmax vs the twin's f64 two-pass softmax on the cache's values
// (f16 keys or values: the twin reads the same halves, rounded by roundKv).
// Every case runs f32, f16 and f16 keys over f32 values (KV_TYPE_PAIRS). Measured
// on these grids: NMSE ≤ ~3e-12 (f16: ≤ ~4e-13), max abs ≤ ~1.1e-6 (outputs are O(1)).
// What the f16 rounding itself costs is checked against the twin on the
// unrounded f32 cache: max abs ≤ F16_MAX_ABS.
const MAX_NMSE = 1e-10;
const MAX_ABS = 1e-5;
// lse is O(log n_kv + |s|); scores are sums of probabilities ≤ G.
const MAX_LSE_ABS = 1e-5;
const MAX_SCORE_REL = 1e-5;
// Each cached value moves by ≤ 2⁻¹¹ relative (half an f16 ulp); measured on these
// grids: outputs and lse move by ≤ ~2.1e-3 (values up to ~4, keys up to ~6).
const F16_MAX_ABS = 4e-3;

function assertClose(got: Float32Array, want: Float32Array, what: string, maxAbsLimit = MAX_ABS) {
  const { nmse, maxAbs } = compare(got, want);
  assert.ok(nmse < MAX_NMSE, `${what}: NMSE ${nmse}`);
  assert.ok(maxAbs < maxAbsLimit, `${what}: max abs ${maxAbs}`);
}

function randomCache(shape: AttentionShape, seed: number) {
  const n = shape.nHeadKv * shape.nSlots * shape.headDim;
  return { k: randomValues(seed, n, 1.5), v: randomValues(seed + 1, n) };
}

/** The cache as `types` store it, uploaded, and its values as the twin reads them. */
function uploadCache(
  device: GPUDevice,
  types: KvTypes,
  cache: { k: Float32Array; v: Float32Array },
) {
  return {
    kBuf: kvStorageOf(device, types.k, cache.k, "k_cache"),
    vBuf: kvStorageOf(device, types.v, cache.v, "v_cache"),
    k: roundKv(types.k, cache.k),
    v: roundKv(types.v, cache.v),
  };
}

/** f16 keys or values: the output is also near the twin on the unrounded cache (what f16 costs). */
function assertF16Cost(types: KvTypes, got: Float32Array, exact: Float32Array, what: string) {
  if (types.k === "f32" && types.v === "f32") return;
  const { maxAbs } = compare(got, exact);
  assert.ok(maxAbs < F16_MAX_ABS, `${what}: f16 cache moved it by ${maxAbs}`);
}

interface PrefillCase {
  shape: AttentionShape;
  tokens: number;
  maxTokens: number;
  pos: number;
  /** Only the tiled kernel (the broadcast one has cases like it; each shape compiles for seconds). */
  tiledOnly?: boolean;
}

async function checkPrefill(c: PrefillCase, types: KvTypes, seed: number, broadcast: boolean) {
  const r = await testRuntime();
  const { shape, tokens, maxTokens, pos } = c;
  const { nHead, headDim } = shape;
  const q = randomValues(seed, maxTokens * nHead * headDim, 1.5);
  const cache = randomCache(shape, seed + 2);
  const { kBuf, vBuf, k, v } = uploadCache(r.device, types, cache);
  const qBuf = storageOf(r.device, q, "q");
  const out = storageOf(r.device, new Float32Array(maxTokens * nHead * headDim), "out");
  const lse = storageOf(r.device, new Float32Array(maxTokens * nHead), "lse");
  const step = stepBuffer(r.device, { pos, nTokens: tokens, nKv: pos + tokens, seed: 0 });
  submitPass(r.device, [
    createAttentionPrefill(r, {
      q: qBuf,
      kCache: kBuf,
      vCache: vBuf,
      kvTypes: types,
      out,
      lse,
      shape,
      step,
      maxTokens,
      broadcast,
    }),
  ]);
  const gotOut = await readF32(r.device, out, tokens * nHead * headDim);
  const gotLse = await readF32(r.device, lse, tokens * nHead);
  for (const b of [qBuf, kBuf, vBuf, out, lse, step]) b.destroy();
  const want = attention(q, k, v, tokens, pos, shape);
  assertClose(gotOut, want.out, "out");
  assertClose(gotLse, want.lse, "lse", MAX_LSE_ABS);
  const exact = attention(q, cache.k, cache.v, tokens, pos, shape);
  assertF16Cost(types, gotOut, exact.out, "out");
  assertF16Cost(types, gotLse, exact.lse, "lse");
}

const prefillCases: PrefillCase[] = [
  { shape: { nHead: 1, nHeadKv: 1, headDim: 4, nSlots: 1 }, tokens: 1, maxTokens: 1, pos: 0 },
  { shape: { nHead: 2, nHeadKv: 1, headDim: 8, nSlots: 5 }, tokens: 3, maxTokens: 5, pos: 0 },
  { shape: { nHead: 8, nHeadKv: 4, headDim: 8, nSlots: 32 }, tokens: 17, maxTokens: 17, pos: 0 },
  {
    shape: { nHead: 6, nHeadKv: 2, headDim: 64, nSlots: 200 },
    tokens: 17,
    maxTokens: 32,
    pos: 150,
    tiledOnly: true,
  },
  { shape: { nHead: 4, nHeadKv: 4, headDim: 128, nSlots: 140 }, tokens: 3, maxTokens: 3, pos: 137 },
  {
    shape: { nHead: 7, nHeadKv: 1, headDim: 64, nSlots: 130 },
    tokens: 65,
    maxTokens: 65,
    pos: 64,
    tiledOnly: true,
  },
  {
    shape: { nHead: 4, nHeadKv: 1, headDim: 64, nSlots: 2600 },
    tokens: 3,
    maxTokens: 4,
    pos: 2500,
  },
  // The Qwen2.5-0.5B layout late in a long prompt: several slot chunks and row groups,
  // the last one partly past the step.
  {
    shape: { nHead: 14, nHeadKv: 2, headDim: 64, nSlots: 1900 },
    tokens: 70,
    maxTokens: 128,
    pos: 1820,
  },
];

// Both kernels on every adapter: the tiled one (GPUs) and the broadcast one (CPU adapters;
// steps of more than one row: a one-row step shares the decode scratch).
for (const broadcast of [false, true]) {
  for (const types of KV_TYPE_PAIRS) {
    for (const c of prefillCases.filter((c) => !broadcast || (c.maxTokens > 1 && !c.tiledOnly))) {
      const s = c.shape;
      Deno.test({
        name: `attention_prefill${broadcast ? "_broadcast" : ""}(${
          kvTypesName(types)
        }, heads=${s.nHead}/${s.nHeadKv}, headDim=${s.headDim}, T=${c.tokens}/${c.maxTokens}, pos0=${c.pos}, slots=${s.nSlots}) matches the CPU twin`,
        ...gpuTestOptions,
        fn: () => checkPrefill(c, types, s.nHead * 100 + c.tokens, broadcast),
      });
    }
  }
}

interface DecodeCase {
  shape: AttentionShape;
  nKv: number;
  scores: boolean;
}

async function checkDecode(c: DecodeCase, types: KvTypes, seed: number) {
  const r = await testRuntime();
  const { shape, nKv } = c;
  const { nHead, nHeadKv, headDim, nSlots } = shape;
  const q = randomValues(seed, nHead * headDim, 1.5);
  const cache = randomCache(shape, seed + 2);
  const { kBuf, vBuf, k, v } = uploadCache(r.device, types, cache);
  const before = Float32Array.from({ length: nHeadKv * nSlots }, (_, i) => i % 3);
  const qBuf = storageOf(r.device, q, "q");
  const out = storageOf(r.device, new Float32Array(nHead * headDim), "out");
  const scores = storageOf(r.device, before, "scores");
  const step = stepBuffer(r.device, { pos: nKv - 1, nTokens: 1, nKv, seed: 0 });
  const op = createAttentionDecode(r, {
    q: qBuf,
    kCache: kBuf,
    vCache: vBuf,
    kvTypes: types,
    out,
    shape,
    step,
    ...(c.scores ? { scores } : {}),
  });
  submitPass(r.device, [op]);
  const gotOut = await readF32(r.device, out, nHead * headDim);
  const gotScores = await readF32(r.device, scores, nHeadKv * nSlots);
  for (const b of [qBuf, kBuf, vBuf, out, scores, step]) b.destroy();
  const want = attention(q, k, v, 1, nKv - 1, shape);
  assertClose(gotOut, want.out, "out");
  assertF16Cost(types, gotOut, attention(q, cache.k, cache.v, 1, nKv - 1, shape).out, "out");
  if (!c.scores) {
    assert.deepEqual(gotScores, before);
    return;
  }
  const wantScores = attentionScores(q, k, want.lse, 1, nKv - 1, shape, before.slice());
  for (let i = 0; i < wantScores.length; i++) {
    const err = Math.abs(gotScores[i]! - wantScores[i]!);
    assert.ok(
      err <= MAX_SCORE_REL * Math.max(1, wantScores[i]!),
      `score ${i}: ${gotScores[i]} vs ${wantScores[i]}`,
    );
  }
}

const decodeCases: DecodeCase[] = [
  { shape: { nHead: 1, nHeadKv: 1, headDim: 4, nSlots: 1 }, nKv: 1, scores: true },
  { shape: { nHead: 3, nHeadKv: 1, headDim: 8, nSlots: 70 }, nKv: 65, scores: true },
  { shape: { nHead: 8, nHeadKv: 4, headDim: 8, nSlots: 32 }, nKv: 5, scores: false },
  { shape: { nHead: 8, nHeadKv: 2, headDim: 64, nSlots: 1100 }, nKv: 1031, scores: true },
  { shape: { nHead: 4, nHeadKv: 4, headDim: 128, nSlots: 300 }, nKv: 300, scores: false },
  { shape: { nHead: 4, nHeadKv: 1, headDim: 64, nSlots: 33000 }, nKv: 32769, scores: true },
];

for (const types of KV_TYPE_PAIRS) {
  for (const c of decodeCases) {
    const s = c.shape;
    Deno.test({
      name: `attention_decode(${
        kvTypesName(types)
      }, heads=${s.nHead}/${s.nHeadKv}, headDim=${s.headDim}, n_kv=${c.nKv}, slots=${s.nSlots}, scores=${c.scores}) matches the CPU twin`,
      ...gpuTestOptions,
      fn: () => checkDecode(c, types, s.nHead * 1000 + c.nKv),
    });
  }
}

for (const kvType of KV_TYPES) {
  Deno.test({
    name: `dbg_attention_decode(${kvType}, heads=1/1, headDim=4, n_kv=2): equal scores average ` +
      "the values",
    ...gpuTestOptions,
    async fn() {
      const r = await testRuntime();
      const shape = { nHead: 1, nHeadKv: 1, headDim: 4, nSlots: 3 };
      const q = storageOf(r.device, new Float32Array([1, 0, 0, 0]), "q");
      const keys = new Float32Array([0, 1, 0, 0, 0, -1, 0, 0, 9, 9, 9, 9]);
      const values = new Float32Array([2, 4, 0, 1, 6, 8, 0, 1, 100, 100, 100, 100]);
      const k = kvStorageOf(r.device, kvType, keys, "k_cache");
      const v = kvStorageOf(r.device, kvType, values, "v_cache");
      const out = storageOf(r.device, new Float32Array(4), "out");
      const scores = storageOf(r.device, new Float32Array(3), "scores");
      const step = stepBuffer(r.device, { pos: 1, nTokens: 1, nKv: 2, seed: 0 });
      submitPass(r.device, [
        createAttentionDecode(r, {
          q,
          kCache: k,
          vCache: v,
          kvTypes: kvTypes(kvType),
          out,
          shape,
          step,
          scores,
        }),
      ]);
      assert.deepEqual([...await readF32(r.device, out, 4)], [4, 6, 0, 1]);
      assert.deepEqual([...await readF32(r.device, scores, 3)], [0.5, 0.5, 0]);
      for (const b of [q, k, v, out, scores, step]) b.destroy();
    },
  });
}

Deno.test({
  name:
    "createAttentionDecode() rejects a head size that is not a multiple of 4 and a short f16 cache",
  ...gpuTestOptions,
  async fn() {
    const r = await testRuntime();
    const b = storageOf(r.device, new Float32Array(64), "b");
    const shape = { nHead: 2, nHeadKv: 1, headDim: 6, nSlots: 4 };
    assert.throws(
      () => createAttentionDecode(r, { q: b, kCache: b, vCache: b, out: b, shape, step: b }),
      /head size 6 is not a multiple of 4/,
    );
    // 256 bytes hold 128 halves: 1 KV head × 32 slots × 4 fit, 33 slots do not.
    const kv = { q: b, kCache: b, vCache: b, out: b, step: b, kvTypes: kvTypes("f16") } as const;
    const fits = { nHead: 1, nHeadKv: 1, headDim: 4, nSlots: 32 };
    createAttentionDecode(r, { ...kv, shape: fits }).destroy();
    assert.throws(
      () => createAttentionDecode(r, { ...kv, shape: { ...fits, nSlots: 33 } }),
      /f16 cache "k_cache" holds 128 elements, expected 1×33×4 = 132/,
    );
    b.destroy();
  },
});

Deno.test("attention() reproduces the oracle's layer-0 attention of stories260K", () => {
  const shape = { nHead: 8, nHeadKv: 4, headDim: 8, nSlots: 5 };
  // The oracle's K (5 tokens × 4 heads × 8) and V (same) are token-major; the cache is head-major.
  const kRows = oracleTensor(8, "Kcur-0");
  const vRows = oracleTensor(9, "Vcur-0");
  const kCache = new Float32Array(4 * 5 * 8);
  const vCache = new Float32Array(4 * 5 * 8);
  for (let t = 0; t < 5; t++) {
    for (let h = 0; h < 4; h++) {
      for (let d = 0; d < 8; d++) {
        kCache[(h * 5 + t) * 8 + d] = kRows[(t * 4 + h) * 8 + d]!;
        vCache[(h * 5 + t) * 8 + d] = vRows[(t * 4 + h) * 8 + d]!;
      }
    }
  }
  const { out, lse } = attention(oracleTensor(5, "Qcur-0"), kCache, vCache, 5, 0, shape);
  const { maxAbs } = compare(out, oracleTensor(20, "kqv_merged_cont-0"));
  assert.ok(maxAbs < 1e-5, `out: max abs ${maxAbs}`);
  // softmax[h][t][j] = exp(s - lse): compare with the oracle's probabilities (32 padded slots).
  const probs = oracleTensor(17, "kq_soft_max_ext-0");
  const q = oracleTensor(5, "Qcur-0");
  const scale = 1 / Math.sqrt(8);
  for (let h = 0; h < 8; h++) {
    for (let t = 0; t < 5; t++) {
      for (let j = 0; j <= t; j++) {
        let dot = 0;
        for (let d = 0; d < 8; d++) {
          dot += q[(t * 8 + h) * 8 + d]! * kCache[(Math.floor(h / 2) * 5 + j) * 8 + d]!;
        }
        const p = Math.exp(dot * scale - lse[t * 8 + h]!);
        assert.ok(Math.abs(p - probs[(h * 5 + t) * 32 + j]!) < 1e-5, `p[${h}][${t}][${j}]`);
      }
    }
  }
});

Deno.test("attention() rejects positions past the cache", () => {
  const shape = { nHead: 2, nHeadKv: 1, headDim: 2, nSlots: 4 };
  assert.throws(
    () => attention(new Float32Array(12), new Float32Array(8), new Float32Array(8), 3, 2, shape),
    /positions 2\.\.4 run past 4 cache slots/,
  );
});
