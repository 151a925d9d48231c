import assert from "node:assert/strict";
import { createRuntime } from "../../src/gpu/runtime.ts";
import { createTimer, TOTAL_LABEL } from "../../src/gpu/timing.ts";
import { gpuTestOptions, testGpu } from "../_gpu.ts";

Deno.test({
  name: "createTimer() reports a non-negative duration per pass label and a total",
  ...gpuTestOptions,
  fn: async () => {
    const ctx = await testGpu();
    const rt = createRuntime(ctx);
    const timer = createTimer(rt, 3);
    assert.equal(timer.usesTimestamps, ctx.hasTimestamps);
    const encoder = rt.device.createCommandEncoder();
    for (const label of ["a", "b", "a"]) {
      encoder.beginComputePass(timer.passDescriptor(label)).end();
    }
    assert.throws(
      () => timer.passDescriptor("c"),
      /Cannot time pass "c": the timer holds 3 passes/,
    );
    timer.resolve(encoder);
    rt.device.queue.submit([encoder.finish()]);
    const times = await timer.read();
    const expected = timer.usesTimestamps ? ["a", "b", TOTAL_LABEL] : [TOTAL_LABEL];
    assert.deepEqual([...times.keys()].sort(), expected.sort());
    for (const ms of times.values()) assert.ok(ms >= 0 && Number.isFinite(ms));
    // A new frame starts after read().
    timer.passDescriptor("again");
    timer.destroy();
  },
});
