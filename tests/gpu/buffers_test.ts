import assert from "node:assert/strict";
import { createReadback, createStorageFrom, readTokenIds } from "../../src/gpu/buffers.ts";
import { acquireGpu } from "../../src/gpu/device.ts";
import { GpuError } from "../../src/errors.ts";
import { gpuTestOptions } from "../_gpu.ts";

Deno.test({
  name: "readTokenIds() reads the first n token ids a step copied, and a failed map is a GpuError",
  ...gpuTestOptions,
  async fn() {
    // A device of its own: the failed map's validation error sticks to it.
    const ctx = await acquireGpu();
    try {
      const { device } = ctx;
      const ids = createStorageFrom(device, new Uint32Array([7, 0xfffffffe, 3, 9]), "ids");
      const readback = createReadback(device, 16, "readback");
      const encoder = device.createCommandEncoder();
      encoder.copyBufferToBuffer(ids, 0, readback, 0, 16);
      device.queue.submit([encoder.finish()]);
      assert.deepEqual([...await readTokenIds(ctx, readback, 3)], [7, 0xfffffffe, 3]);
      // The buffer is unmapped again: a second step can copy into it.
      assert.equal(readback.mapState, "unmapped");
      readback.destroy();
      await assert.rejects(() => readTokenIds(ctx, readback, 1), (e: unknown) => {
        assert.ok(e instanceof GpuError, String(e));
        assert.equal(e.exitCode, 5);
        return true;
      });
      ids.destroy();
    } finally {
      ctx.device.destroy();
    }
  },
});
