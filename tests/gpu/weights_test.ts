import assert from "node:assert/strict";
import { LimitError } from "../../src/errors.ts";
import { GgmlType } from "../../src/gguf/ggml_type.ts";
import { openGguf } from "../../src/gguf/reader.ts";
import { readBuffer } from "../../src/gpu/buffers.ts";
import { createRuntime, type GpuRuntime } from "../../src/gpu/runtime.ts";
import {
  createGpuWeight,
  destroyGpuWeight,
  type GpuWeight,
  rowsPerChunk,
  uploadWeight,
} from "../../src/gpu/weights.ts";
import { gpuTestOptions, testGpu } from "../_gpu.ts";

const MODEL = new URL("../../../shared/models/stories260K-Q8_0-mix.gguf", import.meta.url).pathname;

/** The bytes of every chunk, concatenated without padding. */
async function downloadWeight(rt: GpuRuntime, weight: GpuWeight): Promise<Uint8Array> {
  const out = new Uint8Array(weight.byteSize);
  for (const chunk of weight.chunks) {
    const size = chunk.rowCount * weight.rowBytes;
    const bytes = new Uint8Array(await readBuffer(rt.device, chunk.buffer, size));
    out.set(bytes, chunk.firstRow * weight.rowBytes);
  }
  return out;
}

Deno.test({
  name:
    "uploadWeight() copies every tensor of a model to the GPU byte for byte through one staging array",
  ...gpuTestOptions,
  fn: async () => {
    const rt = createRuntime(await testGpu());
    const file = await openGguf(MODEL);
    try {
      const staging = new Uint8Array(Math.max(...file.tensors.map((t) => t.byteSize)));
      for (const info of file.tensors) {
        const weight = await uploadWeight(rt, file, info, staging);
        assert.equal(weight.cols, info.dims[0]);
        assert.equal(weight.rows * weight.cols, info.elementCount);
        assert.equal(weight.chunks.length, 1);
        const expected = await file.readTensor(info);
        assert.deepEqual(await downloadWeight(rt, weight), expected, info.name);
        destroyGpuWeight(weight);
      }
    } finally {
      file.close();
    }
  },
});

Deno.test({
  name: "uploadWeight() splits a tensor over a small chunk limit into whole-row chunks within it",
  ...gpuTestOptions,
  fn: async () => {
    const rt = createRuntime(await testGpu());
    const file = await openGguf(MODEL);
    try {
      const info = file.tensor("token_embd.weight");
      assert.ok(info);
      const maxChunkBytes = 1000;
      const weight = await uploadWeight(rt, file, info, undefined, { maxChunkBytes });
      assert.ok(weight.chunks.length > 1);
      let next = 0;
      for (const chunk of weight.chunks) {
        assert.equal(chunk.firstRow, next);
        assert.ok(chunk.buffer.size <= maxChunkBytes);
        assert.equal(chunk.buffer.size % 16, 0);
        next += chunk.rowCount;
      }
      assert.equal(next, weight.rows);
      assert.deepEqual(await downloadWeight(rt, weight), await file.readTensor(info));
      destroyGpuWeight(weight);
    } finally {
      file.close();
    }
  },
});

Deno.test({
  name: "createGpuWeight() pads a chunk of 18-byte Q4_0 rows to 16 bytes and keeps its tail bytes",
  ...gpuTestOptions,
  fn: async () => {
    const rt = createRuntime(await testGpu());
    const bytes = Uint8Array.from({ length: 5 * 18 }, (_, i) => (i * 37 + 11) & 0xff);
    const shape = { name: "w", type: GgmlType.Q4_0, rows: 5, cols: 32 };
    // Two rows take 36 bytes, padded to 48; three would take 64.
    const weight = createGpuWeight(rt, bytes, shape, { maxChunkBytes: 48 });
    assert.deepEqual(weight.chunks.map((c) => [c.firstRow, c.rowCount, c.buffer.size]), [
      [0, 2, 48],
      [2, 2, 48],
      [4, 1, 32],
    ]);
    assert.deepEqual(await downloadWeight(rt, weight), bytes);
    destroyGpuWeight(weight);
  },
});

Deno.test({
  name: "createGpuWeight() rejects bytes that do not match the shape",
  ...gpuTestOptions,
  fn: async () => {
    const rt = createRuntime(await testGpu());
    assert.throws(
      () =>
        createGpuWeight(rt, new Uint8Array(30), {
          name: "w",
          type: GgmlType.Q8_0,
          rows: 1,
          cols: 32,
        }),
      /Cannot upload weight "w": 1×32 Q8_0 takes 34 bytes, got 30/,
    );
  },
});

Deno.test("rowsPerChunk() fits whole padded rows and rejects a row over the limit", () => {
  assert.equal(rowsPerChunk("w", 18, 48), 2);
  assert.equal(rowsPerChunk("w", 18, 47), 1);
  assert.equal(rowsPerChunk("w", 210, 640), 3);
  assert.equal(rowsPerChunk("w", 210, 639), 2);
  assert.throws(() => rowsPerChunk("output.weight", 300, 200), LimitError);
  assert.throws(() => rowsPerChunk("output.weight", 300, 200), /one row takes 300 bytes/);
});
