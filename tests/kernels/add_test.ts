import assert from "node:assert/strict";
import { createAdd, createAddBias } from "../../src/gpu/ops/add.ts";
import { addBias, addInPlace } from "../../src/reference/add.ts";
import { gpuTestOptions } from "../_gpu.ts";
import { oracleTensor } from "./_oracle_layer0.ts";
import { compare, randomValues, readF32, storageOf, submitPass, testRuntime } from "./_cases.ts";

// One f32 addition per element on both sides: results must be bit-identical.

for (const n of [1, 3, 256, 1000, 70000]) {
  Deno.test({
    name: `add(n=${n}) matches the CPU twin exactly`,
    ...gpuTestOptions,
    async fn() {
      const r = await testRuntime();
      const a = randomValues(n, n);
      const b = randomValues(n + 7, n);
      const aBuf = storageOf(r.device, a, "a");
      const bBuf = storageOf(r.device, b, "b");
      submitPass(r.device, [createAdd(r, { a: aBuf, b: bBuf, n })]);
      const got = await readF32(r.device, aBuf, n);
      aBuf.destroy();
      bBuf.destroy();
      assert.deepEqual(got, addInPlace(a, b));
    },
  });
}

for (const [rows, n] of [[1, 1], [3, 7], [17, 896]] as const) {
  Deno.test({
    name: `add_bias(rows=${rows}, n=${n}) matches the CPU twin exactly`,
    ...gpuTestOptions,
    async fn() {
      const r = await testRuntime();
      const a = randomValues(rows, rows * n);
      const bias = randomValues(n, n);
      const aBuf = storageOf(r.device, a, "a");
      const bBuf = storageOf(r.device, bias, "bias");
      submitPass(r.device, [createAddBias(r, { a: aBuf, bias: bBuf, rows, n })]);
      const got = await readF32(r.device, aBuf, rows * n);
      aBuf.destroy();
      bBuf.destroy();
      assert.deepEqual(got, addBias(a, bias));
    },
  });
}

Deno.test({
  name: "dbg_add_bias(rows=2, n=2): [1, 2, 3, 4] + [10, 20]",
  ...gpuTestOptions,
  async fn() {
    const r = await testRuntime();
    const a = storageOf(r.device, new Float32Array([1, 2, 3, 4]), "a");
    const b = storageOf(r.device, new Float32Array([10, 20]), "bias");
    submitPass(r.device, [createAddBias(r, { a, bias: b, rows: 2, n: 2 })]);
    assert.deepEqual([...await readF32(r.device, a, 4)], [11, 22, 13, 24]);
    a.destroy();
    b.destroy();
  },
});

Deno.test({
  name: "createAdd() names the short buffer",
  ...gpuTestOptions,
  async fn() {
    const r = await testRuntime();
    const a = storageOf(r.device, new Float32Array(8), "a");
    const b = storageOf(r.device, new Float32Array(4), "b");
    assert.throws(
      () => createAdd(r, { a, b, n: 8 }),
      /Cannot run add: buffer "b" holds 4 elements, expected 8 = 8/,
    );
    a.destroy();
    b.destroy();
  },
});

Deno.test("addInPlace() reproduces the oracle's layer-0 residual", () => {
  const got = addInPlace(oracleTensor(21, "kqv_out-0"), oracleTensor(0, "inp_embd"));
  const { maxAbs } = compare(got, oracleTensor(22, "ffn_inp-0"));
  assert.ok(maxAbs < 1e-6, `max abs ${maxAbs}`);
});
