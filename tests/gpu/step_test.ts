import assert from "node:assert/strict";
import { readBuffer } from "../../src/gpu/buffers.ts";
import { createStepBuffer, STEP_BYTES, STEP_WGSL, writeStep } from "../../src/gpu/step.ts";
import { gpuTestOptions, testGpu } from "../_gpu.ts";

Deno.test({
  name: "writeStep() writes pos, n_tokens, n_kv and seed as four u32",
  ...gpuTestOptions,
  async fn() {
    const { device } = await testGpu();
    const step = createStepBuffer(device);
    writeStep(device, step, { pos: 7, nTokens: 3, nKv: 10, seed: 0xdeadbeef });
    assert.deepEqual([...new Uint32Array(await readBuffer(device, step, STEP_BYTES))], [
      7,
      3,
      10,
      0xdeadbeef,
    ]);
    assert.match(STEP_WGSL, /struct Step \{ pos: u32, n_tokens: u32, n_kv: u32, seed: u32 \}/);
    assert.throws(
      () => writeStep(device, step, { pos: -1, nTokens: 1, nKv: 1, seed: 0 }),
      /pos must be a u32, got -1/,
    );
    assert.throws(
      () => writeStep(device, step, { pos: 0, nTokens: 0, nKv: 1, seed: 0 }),
      /nTokens must be at least 1, got 0/,
    );
    step.destroy();
  },
});
