import assert from "node:assert/strict";
import { createKvSlotTable } from "../../src/gpu/ops/kv_slot_table.ts";
import { gpuTestOptions } from "../_gpu.ts";
import { testRuntime } from "./_cases.ts";

Deno.test({
  name: "createKvSlotTable(nHeadKv=3, nSlots=5) starts empty and reset() empties it again",
  ...gpuTestOptions,
  async fn() {
    const rt = await testRuntime();
    const table = createKvSlotTable(rt, { nHeadKv: 3, nSlots: 5, label: "t" });
    const empty = {
      pos: new Int32Array(15).fill(-1),
      score: new Float32Array(15),
      count: 0,
      free: new Uint32Array(3),
    };
    const expectEmpty = async () => {
      const snap = await table.read();
      assert.ok(Number.isNaN(snap.tau));
      assert.deepEqual({ ...snap, tau: 0 }, { ...empty, tau: 0 });
    };
    await expectEmpty();
    const dirty = () => {
      const q = rt.device.queue;
      q.writeBuffer(table.pos, 0, new Int32Array(15).fill(7));
      q.writeBuffer(table.score, 0, new Float32Array(15).fill(0.5));
      q.writeBuffer(table.state, 0, new Uint32Array([0x3f000000, 5, 0, 0, 1, 2, 3]));
    };
    dirty();
    const dirtySnap = await table.read();
    assert.equal(dirtySnap.tau, 0.5);
    assert.deepEqual([...dirtySnap.free], [1, 2, 3]);
    table.reset(rt.device.queue);
    await expectEmpty();
    dirty();
    const encoder = rt.device.createCommandEncoder();
    table.reset(encoder);
    rt.device.queue.submit([encoder.finish()]);
    await expectEmpty();
    table.destroy();
  },
});

Deno.test({
  name: "createKvSlotTable() rejects an empty shape",
  ...gpuTestOptions,
  async fn() {
    const rt = await testRuntime();
    assert.throws(() => createKvSlotTable(rt, { nHeadKv: 0, nSlots: 4 }), /0 heads × 4 slots/);
  },
});
