import assert from "node:assert/strict";
import { createArgmax } from "../../src/gpu/ops/argmax.ts";
import { readBuffer } from "../../src/gpu/buffers.ts";
import { argmax } from "../../src/reference/argmax.ts";
import { gpuTestOptions } from "../_gpu.ts";
import { randomValues, storageOf, submitPass, testRuntime } from "./_cases.ts";

async function gpuArgmax(logits: Float32Array, outIndex = 0): Promise<number> {
  const r = await testRuntime();
  const l = storageOf(r.device, logits, "logits");
  const out = storageOf(r.device, new Uint32Array(outIndex + 1).fill(7777), "out");
  submitPass(r.device, [createArgmax(r, { logits: l, out, nVocab: logits.length, outIndex })]);
  const got = new Uint32Array(await readBuffer(r.device, out, 4 * (outIndex + 1)));
  l.destroy();
  out.destroy();
  return got[outIndex]!;
}

for (const n of [1, 2, 255, 512, 32000, 151936]) {
  Deno.test({
    name: `argmax(n=${n}) matches the CPU twin`,
    ...gpuTestOptions,
    async fn() {
      const logits = randomValues(n, n, 5);
      assert.equal(await gpuArgmax(logits, n % 3), argmax(logits));
    },
  });
}

Deno.test({
  name: "dbg_argmax(n=6): ties go to the lowest id and NaN never wins",
  ...gpuTestOptions,
  async fn() {
    const logits = new Float32Array([NaN, -1, 4, 2, 4, NaN]);
    assert.equal(argmax(logits), 2);
    assert.equal(await gpuArgmax(logits), 2);
    const flat = new Float32Array(1000).fill(-Infinity);
    assert.equal(argmax(flat), 0);
    assert.equal(await gpuArgmax(flat), 0);
  },
});
