import assert from "node:assert/strict";
import { createRmsNorm } from "../../src/gpu/ops/rms_norm.ts";
import { rmsNorm } from "../../src/reference/rms_norm.ts";
import { gpuTestOptions } from "../_gpu.ts";
import { oracleTensor } from "./_oracle_layer0.ts";
import { compare, randomValues, readF32, storageOf, submitPass, testRuntime } from "./_cases.ts";

// f32 partial sums in a tree vs the twin's f64: measured NMSE ~1e-14.
const MAX_NMSE = 1e-11;
const MAX_ABS = 1e-5;

async function check(rows: number, n: number, eps: number, seed: number) {
  const r = await testRuntime();
  const x = randomValues(seed, rows * n, 3);
  const w = randomValues(seed + 1, n);
  const xBuf = storageOf(r.device, x, "x");
  const wBuf = storageOf(r.device, w, "w");
  const yBuf = storageOf(r.device, new Float32Array(rows * n), "y");
  submitPass(r.device, [createRmsNorm(r, { x: xBuf, weight: wBuf, out: yBuf, rows, n, eps })]);
  const got = await readF32(r.device, yBuf, rows * n);
  for (const b of [xBuf, wBuf, yBuf]) b.destroy();
  const { nmse, maxAbs } = compare(got, rmsNorm(x, w, n, eps));
  assert.ok(nmse < MAX_NMSE, `NMSE ${nmse}`);
  assert.ok(maxAbs < MAX_ABS, `max abs ${maxAbs}`);
}

for (
  const [rows, n, eps] of [[1, 1, 1e-5], [3, 7, 1e-6], [5, 64, 1e-5], [2, 255, 1e-5], [
    1,
    4095,
    1e-5,
  ], [3, 8192, 1e-6]] as const
) {
  Deno.test({
    name: `rms_norm(rows=${rows}, n=${n}, eps=${eps}) matches the CPU twin`,
    ...gpuTestOptions,
    fn: () => check(rows, n, eps, rows * 1000 + n),
  });
}

Deno.test({
  name: "dbg_rms_norm(rows=1, n=4): [1, 2, 3, 4] with weights [1, 1, 2, 2]",
  ...gpuTestOptions,
  async fn() {
    const r = await testRuntime();
    const x = storageOf(r.device, new Float32Array([1, 2, 3, 4]), "x");
    const w = storageOf(r.device, new Float32Array([1, 1, 2, 2]), "w");
    const y = storageOf(r.device, new Float32Array(4), "y");
    submitPass(r.device, [createRmsNorm(r, { x, weight: w, out: y, rows: 1, n: 4, eps: 0 })]);
    const got = await readF32(r.device, y, 4);
    const inv = 1 / Math.sqrt(30 / 4);
    [1 * inv, 2 * inv, 6 * inv, 8 * inv].forEach((v, i) => assert.ok(Math.abs(got[i]! - v) < 1e-6));
    for (const b of [x, w, y]) b.destroy();
  },
});

Deno.test("rmsNorm() reproduces the oracle's layer-0 norms of stories260K", () => {
  const ones = new Float32Array(64).fill(1);
  const cases = [
    { input: oracleTensor(0, "inp_embd"), want: oracleTensor(1, "norm-0") },
    { input: oracleTensor(22, "ffn_inp-0"), want: oracleTensor(23, "norm-0") },
  ];
  for (const { input, want } of cases) {
    const { maxAbs } = compare(rmsNorm(input, ones, 64, 1e-5), want);
    assert.ok(maxAbs < 1e-5, `max abs ${maxAbs}`);
  }
});

Deno.test("rmsNorm() rejects input that is not whole rows", () => {
  assert.throws(
    () => rmsNorm(new Float32Array(5), new Float32Array(2), 2, 1e-5),
    /input has 5 values, not rows of 2/,
  );
});
