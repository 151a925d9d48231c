/**
 * Files beyond 4 GiB: a sparse temporary file (the file system stores the
 * holes as nothing) whose last tensor lies past 4 GiB.
 */

import assert from "node:assert/strict";
import { GgmlType } from "../../src/gguf/ggml_type.ts";
import { openGguf } from "../../src/gguf/reader.ts";
import { buildGguf, pattern } from "./_gguf_bytes.ts";

const STORIES = decodeURIComponent(
  new URL("../../../shared/models/stories260K.gguf", import.meta.url).pathname,
);
const GIB = 2 ** 30;

Deno.test("openGguf() reads a tensor past 4 GiB of a sparse 5 GiB file", async () => {
  // "huge" (F16, 65536 × 40960 = 5 GiB of holes) starts the data section; "far" follows it.
  const hugeDims = [65536, 40960];
  const hugeBytes = hugeDims[0]! * hugeDims[1]! * 2;
  const farData = pattern(64 * 4 * 4, 7);
  const { bytes, layout } = buildGguf({
    metadata: [],
    tensors: [
      { name: "huge", type: GgmlType.F16, dims: hugeDims, offset: 0n },
      { name: "far", type: GgmlType.F32, dims: [64, 4], offset: BigInt(hugeBytes) },
    ],
  });
  const farAt = layout.dataOffset + hugeBytes;
  const path = await Deno.makeTempFile({ prefix: "d2o-sparse-", suffix: ".gguf" });
  try {
    const out = await Deno.open(path, { write: true });
    try {
      await out.write(bytes);
      await out.truncate(farAt + farData.length);
      await out.seek(farAt, Deno.SeekMode.Start);
      await out.write(farData);
    } finally {
      out.close();
    }
    const size = (await Deno.stat(path)).size;
    assert.ok(size > 5 * GIB);

    const t0 = performance.now();
    const file = await openGguf(path);
    const openMs = performance.now() - t0;
    try {
      assert.equal(file.fileSize, size);
      const huge = file.tensor("huge")!;
      assert.equal(huge.byteSize, hugeBytes);
      assert.equal(huge.elementCount, 65536 * 40960);
      const far = file.tensor("far")!;
      assert.equal(far.offset, farAt);
      assert.ok(far.offset > 4 * GIB);
      assert.equal(far.offset + far.byteSize, file.fileSize);
      const t1 = performance.now();
      assert.deepEqual(await file.readTensor(far), farData);
      console.log(
        `sparse ${(size / GIB).toFixed(2)} GiB file: open ${openMs.toFixed(2)} ms, ` +
          `read ${far.byteSize} bytes at ${far.offset} in ${
            (performance.now() - t1).toFixed(2)
          } ms`,
      );
    } finally {
      file.close();
    }
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("openGguf() opens stories260K.gguf in milliseconds", async () => {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const file = await openGguf(STORIES);
    times.push(performance.now() - t0);
    assert.equal(file.tensors.length, 48);
    file.close();
  }
  console.log(
    `stories260K.gguf: open ${times.map((t) => t.toFixed(2)).join(", ")} ms (first is cold JIT)`,
  );
  assert.ok(Math.min(...times) < 100);
});
