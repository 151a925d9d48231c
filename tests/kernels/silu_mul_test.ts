import assert from "node:assert/strict";
import { createSiluMul } from "../../src/gpu/ops/silu_mul.ts";
import { siluMul } from "../../src/reference/silu_mul.ts";
import { gpuTestOptions } from "../_gpu.ts";
import { oracleTensor } from "./_oracle_layer0.ts";
import { compare, randomValues, readF32, storageOf, submitPass, testRuntime } from "./_cases.ts";

// One exp and two roundings per element: measured NMSE ~1e-15.
const MAX_NMSE = 1e-12;
const MAX_ABS = 1e-5;

async function gpuSiluMul(gate: Float32Array, up: Float32Array): Promise<Float32Array> {
  const r = await testRuntime();
  const n = gate.length;
  const g = storageOf(r.device, gate, "gate");
  const u = storageOf(r.device, up, "up");
  const o = storageOf(r.device, new Float32Array(n), "out");
  submitPass(r.device, [createSiluMul(r, { gate: g, up: u, out: o, n })]);
  const got = await readF32(r.device, o, n);
  for (const b of [g, u, o]) b.destroy();
  return got;
}

for (const n of [1, 5, 255, 257, 4097, 3 * 11008]) {
  Deno.test({
    name: `silu_mul(n=${n}) matches the CPU twin`,
    ...gpuTestOptions,
    async fn() {
      const gate = randomValues(n, n, 4);
      const up = randomValues(n + 1, n);
      const { nmse, maxAbs } = compare(await gpuSiluMul(gate, up), siluMul(gate, up));
      assert.ok(nmse < MAX_NMSE, `NMSE ${nmse}`);
      assert.ok(maxAbs < MAX_ABS, `max abs ${maxAbs}`);
    },
  });
}

Deno.test({
  name: "dbg_silu_mul(n=4): silu(0)=0, silu(±large) saturates",
  ...gpuTestOptions,
  async fn() {
    const got = await gpuSiluMul(
      new Float32Array([0, 1, -100, 100]),
      new Float32Array([7, 2, 1, 3]),
    );
    const want = [0, 2 / (1 + Math.exp(-1)), 0, 300];
    want.forEach((v, i) => assert.ok(Math.abs(got[i]! - v) < 1e-5, `${i}: ${got[i]} vs ${v}`));
  },
});

Deno.test("siluMul() reproduces the oracle's layer-0 feed-forward activation", () => {
  const got = siluMul(oracleTensor(25, "ffn_gate-0"), oracleTensor(27, "ffn_up-0"));
  const { maxAbs } = compare(got, oracleTensor(28, "ffn_gate_par-0"));
  assert.ok(maxAbs < 1e-5, `max abs ${maxAbs}`);
});
