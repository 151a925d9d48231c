import assert from "node:assert/strict";
import { LimitError } from "../../src/errors.ts";
import { bytesSource } from "../../src/gguf/byte_source.ts";
import { withFiniteTensors } from "../../src/gguf/finite_check.ts";
import { GgufFormatError } from "../../src/gguf/format_error.ts";
import { GgmlType } from "../../src/gguf/ggml_type.ts";
import { openGguf, parseGguf } from "../../src/gguf/reader.ts";
import type { ByteSource } from "../../src/gguf/types.ts";
import { encodeGguf } from "../../src/gguf/writer.ts";
import { readBuffer } from "../../src/gpu/buffers.ts";
import { createRuntime, type GpuRuntime } from "../../src/gpu/runtime.ts";
import {
  createGpuWeight,
  destroyGpuWeight,
  type GpuWeight,
  rowsPerChunk,
  UploadStaging,
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
    "uploadWeight() copies every tensor of a model to the GPU byte for byte through one small staging area",
  ...gpuTestOptions,
  fn: async () => {
    const rt = createRuntime(await testGpu());
    const file = await openGguf(MODEL);
    try {
      // 4 KiB pieces (4,080 bytes for Q8_0: whole 4 × 34-byte units) and an 8 KiB queue: the
      // 34 KiB embeddings take 9 pieces each, and the queue drains every other piece.
      const staging = new UploadStaging(rt, 4096, 8192);
      const weights: [GpuWeight, Uint8Array][] = [];
      for (const info of file.tensors) {
        const weight = await uploadWeight(rt, file, info, staging);
        assert.equal(weight.cols, info.dims[0]);
        assert.equal(weight.rows * weight.cols, info.elementCount);
        assert.equal(weight.chunks.length, 1);
        weights.push([weight, await file.readTensor(info)]);
      }
      await staging.drain();
      for (const [weight, expected] of weights) {
        assert.deepEqual(await downloadWeight(rt, weight), expected, weight.name);
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

/** One tensor "w" of `rows` × `cols` in `type`, its bytes `data`, parsed from memory and checked finite. */
async function oneTensorFile(
  type: GgmlType,
  cols: number,
  rows: number,
  data: Uint8Array,
  cut?: number,
) {
  const bytes = encodeGguf({
    metadata: [],
    tensors: [{ name: "w", type, dims: [cols, rows], data }],
  });
  const whole = bytesSource(bytes);
  // A file that ends at byte `cut` once parsed (it shrank while the model loaded).
  const source: ByteSource = cut === undefined ? whole : {
    size: bytes.length,
    read: (o, n, into) => whole.read(o, o < 64 ? n : Math.max(0, Math.min(n, cut - o)), into),
    close() {},
  };
  const file = withFiniteTensors(await parseGguf(source, { name: "w.gguf" }));
  return { file, info: file.tensors[0]! };
}

/** `rows` Q8_0 rows of 64 values: scale 1.0 (f16 0x3c00), quants a fixed pattern. */
function q8Rows(rows: number): Uint8Array {
  const bytes = Uint8Array.from({ length: rows * 68 }, (_, i) => (i * 29 + 7) & 0x7f);
  for (let b = 0; b < rows * 2; b++) new DataView(bytes.buffer).setUint16(b * 34, 0x3c00, true);
  return bytes;
}

Deno.test({
  name:
    "uploadWeight() streams 18-byte Q4_0 rows in pieces of whole blocks into padded chunks, tails kept",
  ...gpuTestOptions,
  fn: async () => {
    const rt = createRuntime(await testGpu());
    const data = Uint8Array.from({ length: 7 * 18 }, (_, i) => (i * 37 + 11) & 0xff);
    for (let r = 0; r < 7; r++) new DataView(data.buffer).setUint16(r * 18, 0x3c00, true);
    const { file, info } = await oneTensorFile(GgmlType.Q4_0, 32, 7, data);
    // Chunks of 3 rows (54 bytes, padded to 64); pieces of 72 bytes: 4 blocks, whole words.
    const staging = new UploadStaging(rt, 100, 1);
    const weight = await uploadWeight(rt, file, info, staging, { maxChunkBytes: 64 });
    assert.deepEqual(weight.chunks.map((c) => [c.firstRow, c.rowCount, c.buffer.size]), [
      [0, 3, 64],
      [3, 3, 64],
      [6, 1, 32],
    ]);
    assert.deepEqual(await downloadWeight(rt, weight), data);
    destroyGpuWeight(weight);
    await assert.rejects(
      uploadWeight(rt, file, info, new UploadStaging(rt, 71)),
      /through a 71-byte staging piece: it needs at least 72 bytes/,
    );
  },
});

Deno.test({
  name: "uploadWeight() finds a NaN scale in a later piece and names its block in the whole tensor",
  ...gpuTestOptions,
  fn: async () => {
    const rt = createRuntime(await testGpu());
    const data = q8Rows(300);
    new DataView(data.buffer).setUint16(451 * 34, 0x7e00, true); // block 451: in the 16th piece
    const { file, info } = await oneTensorFile(GgmlType.Q8_0, 64, 300, data);
    await assert.rejects(uploadWeight(rt, file, info, new UploadStaging(rt, 1024)), (e) => {
      assert.ok(e instanceof GgufFormatError, String(e));
      assert.equal(e.code, "non_finite");
      assert.match(e.message, /tensor "w" holds a NaN or infinity \(the scale of block 451\)/);
      assert.equal(e.offset, info.offset + 451 * 34);
      return true;
    });
  },
});

Deno.test({
  name: "uploadWeight() reports a file cut short in the middle of a tensor's upload (truncated)",
  ...gpuTestOptions,
  fn: async () => {
    const rt = createRuntime(await testGpu());
    const data = q8Rows(300);
    const probe = await oneTensorFile(GgmlType.Q8_0, 64, 300, data);
    const cut = probe.info.offset + 5000;
    const { file, info } = await oneTensorFile(GgmlType.Q8_0, 64, 300, data, cut);
    await assert.rejects(uploadWeight(rt, file, info, new UploadStaging(rt, 1024)), (e) => {
      assert.ok(e instanceof GgufFormatError, String(e));
      assert.equal(e.code, "truncated");
      assert.match(e.message, new RegExp(`file ends at byte ${cut} inside tensor "w"`));
      return true;
    });
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
