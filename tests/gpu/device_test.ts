import assert from "node:assert/strict";
import { acquireGpu } from "../../src/gpu/device.ts";
import { GpuError } from "../../src/errors.ts";
import { gpuTestOptions } from "../_gpu.ts";

Deno.test({
  name: "acquireGpu() turns a WebGPU validation error into a GpuError at the next health check",
  ...gpuTestOptions,
  async fn() {
    // A device of its own: the failure sticks to it.
    const ctx = await acquireGpu();
    try {
      ctx.checkHealth(); // healthy so far
      // MAP_READ may only be combined with COPY_DST: a validation error.
      ctx.device.createBuffer({
        size: 16,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.STORAGE,
      });
      await ctx.device.queue.onSubmittedWorkDone();
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.throws(() => ctx.checkHealth(), (e: unknown) => {
        assert.ok(e instanceof GpuError);
        assert.match(e.message, /validation error/);
        assert.equal(e.exitCode, 5);
        return true;
      });
    } finally {
      ctx.device.destroy();
    }
  },
});
