import assert from "node:assert/strict";
import { createRope } from "../../src/gpu/ops/rope.ts";
import { rope, type RopeOptions } from "../../src/reference/rope.ts";
import { gpuTestOptions } from "../_gpu.ts";
import { oracleTensor } from "./_oracle_layer0.ts";
import { stepBuffer } from "./_step.ts";
import { compare, randomValues, readF32, storageOf, submitPass, testRuntime } from "./_cases.ts";

// The angle f32(pos)·invFreq is bit-identical on both sides; the GPU reduces it
// to [-π, π] in f32 before cos/sin, which costs ~1e-7·(θ/2π) absolute. For
// positions below ~10^4 that stays under 1e-5 on unit-scale inputs.
const MAX_NMSE = 1e-10;
const MAX_ABS = 2e-5;

interface Case {
  tokens: number;
  maxTokens: number;
  nHead: number;
  nHeadKv: number;
  pos: number;
  rope: RopeOptions;
}

async function check(c: Case, seed: number) {
  const r = await testRuntime();
  const { headDim } = c.rope;
  const q = randomValues(seed, c.maxTokens * c.nHead * headDim);
  const k = randomValues(seed + 1, c.maxTokens * c.nHeadKv * headDim);
  const qBuf = storageOf(r.device, q, "q");
  const kBuf = storageOf(r.device, k, "k");
  const step = stepBuffer(r.device, {
    pos: c.pos,
    nTokens: c.tokens,
    nKv: c.pos + c.tokens,
    seed: 0,
  });
  const op = createRope(r, {
    q: qBuf,
    k: kBuf,
    nHead: c.nHead,
    nHeadKv: c.nHeadKv,
    maxTokens: c.maxTokens,
    step,
    rope: c.rope,
  });
  submitPass(r.device, [op]);
  const gotQ = await readF32(r.device, qBuf, q.length);
  const gotK = await readF32(r.device, kBuf, k.length);
  for (const b of [qBuf, kBuf, step]) b.destroy();
  // Rows past the step's token count stay untouched.
  const wantQ = q.slice();
  const wantK = k.slice();
  rope(wantQ, c.tokens, c.nHead, c.pos, c.rope);
  rope(wantK, c.tokens, c.nHeadKv, c.pos, c.rope);
  for (const [got, want] of [[gotQ, wantQ], [gotK, wantK]]) {
    const { nmse, maxAbs } = compare(got!, want!);
    assert.ok(nmse < MAX_NMSE, `NMSE ${nmse}`);
    assert.ok(maxAbs < MAX_ABS, `max abs ${maxAbs}`);
  }
}

const factors = Float32Array.from(
  { length: 32 },
  (_, i) => (i < 8 ? 1 : i < 24 ? 1 + (i - 8) / 2 : 8),
);
const cases: Case[] = [
  {
    tokens: 1,
    maxTokens: 1,
    nHead: 1,
    nHeadKv: 1,
    pos: 0,
    rope: { style: "norm", headDim: 4, ropeDim: 4, freqBase: 10000 },
  },
  {
    tokens: 3,
    maxTokens: 4,
    nHead: 8,
    nHeadKv: 4,
    pos: 5,
    rope: { style: "norm", headDim: 8, ropeDim: 8, freqBase: 10000 },
  },
  {
    tokens: 17,
    maxTokens: 17,
    nHead: 6,
    nHeadKv: 2,
    pos: 1000,
    rope: { style: "neox", headDim: 64, ropeDim: 64, freqBase: 1e6 },
  },
  {
    tokens: 1,
    maxTokens: 1,
    nHead: 4,
    nHeadKv: 1,
    pos: 4095,
    rope: { style: "neox", headDim: 128, ropeDim: 64, freqBase: 10000 },
  },
  {
    tokens: 3,
    maxTokens: 3,
    nHead: 4,
    nHeadKv: 2,
    pos: 8000,
    rope: { style: "norm", headDim: 64, ropeDim: 64, freqBase: 500000, freqFactors: factors },
  },
];

for (const c of cases) {
  const { style, headDim, ropeDim, freqBase } = c.rope;
  Deno.test({
    name:
      `rope(${style}, T=${c.tokens}/${c.maxTokens}, heads=${c.nHead}/${c.nHeadKv}, headDim=${headDim}, ropeDim=${ropeDim}, base=${freqBase}, pos0=${c.pos}${
        c.rope.freqFactors ? ", rope_freqs" : ""
      }) matches the CPU twin`,
    ...gpuTestOptions,
    fn: () => check(c, c.pos + headDim),
  });
}

Deno.test({
  name: "dbg_rope(norm, T=1, headDim=2, pos0=1): (1, 0) turns by 1 radian",
  ...gpuTestOptions,
  async fn() {
    const r = await testRuntime();
    const q = storageOf(r.device, new Float32Array([1, 0]), "q");
    const k = storageOf(r.device, new Float32Array([0, 1]), "k");
    const step = stepBuffer(r.device, { pos: 1, nTokens: 1, nKv: 2, seed: 0 });
    const settings: RopeOptions = { style: "norm", headDim: 2, ropeDim: 2, freqBase: 10000 };
    submitPass(r.device, [
      createRope(r, { q, k, nHead: 1, nHeadKv: 1, maxTokens: 1, step, rope: settings }),
    ]);
    const gq = await readF32(r.device, q, 2);
    const gk = await readF32(r.device, k, 2);
    for (
      const [got, want] of [[gq[0], Math.cos(1)], [gq[1], Math.sin(1)], [gk[0], -Math.sin(1)], [
        gk[1],
        Math.cos(1),
      ]]
    ) {
      assert.ok(Math.abs(got! - want!) < 1e-6, `${got} vs ${want}`);
    }
    for (const b of [q, k, step]) b.destroy();
  },
});

Deno.test("rope() reproduces the oracle's rotated layer-0 Q and K of stories260K", () => {
  const settings: RopeOptions = { style: "norm", headDim: 8, ropeDim: 8, freqBase: 10000 };
  const q = rope(oracleTensor(4, "Qcur-0 (reshaped)"), 5, 8, 0, settings);
  const k = rope(oracleTensor(7, "Kcur-0 (reshaped)"), 5, 4, 0, settings);
  for (const [got, want] of [[q, oracleTensor(5, "Qcur-0")], [k, oracleTensor(8, "Kcur-0")]]) {
    const { maxAbs } = compare(got!, want!);
    assert.ok(maxAbs < 1e-5, `max abs ${maxAbs}`);
  }
});

Deno.test("rope() leaves dimensions past ropeDim untouched and rotates neox halves", () => {
  const x = new Float32Array([1, 2, 3, 4, 5, 6]);
  rope(x, 1, 1, 2, { style: "neox", headDim: 6, ropeDim: 4, freqBase: 100 });
  const c0 = Math.cos(2), s0 = Math.sin(2), c1 = Math.cos(0.2), s1 = Math.sin(0.2);
  const want = [1 * c0 - 3 * s0, 2 * c1 - 4 * s1, 1 * s0 + 3 * c0, 2 * s1 + 4 * c1, 5, 6];
  want.forEach((v, i) => assert.ok(Math.abs(x[i]! - v) < 1e-6, `${i}: ${x[i]} vs ${v}`));
});

Deno.test("rope() rejects an odd rotary dimension", () => {
  assert.throws(
    () =>
      rope(new Float32Array(4), 1, 1, 0, { style: "norm", headDim: 4, ropeDim: 3, freqBase: 1e4 }),
    /rotary dimension 3 must be even and within head size 4/,
  );
});
