import assert from "node:assert/strict";
import { bytesSource, openFileSource } from "../../src/gguf/byte_source.ts";
import { InputError } from "../../src/errors.ts";

Deno.test("openFileSource() serialises concurrent reads at different offsets", async () => {
  const path = await Deno.makeTempFile({ prefix: "d2o-source-" });
  try {
    const data = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 13 + 5) & 255);
    await Deno.writeFile(path, data);
    const source = await openFileSource(path);
    try {
      assert.equal(source.size, data.length);
      const ranges = Array.from({ length: 20 }, (_, i) => [i * 3000 + 7, 1000 + i * 50] as const);
      const reads = await Promise.all(ranges.map(([o, n]) => source.read(o, n)));
      reads.forEach((r, i) =>
        assert.deepEqual(r, data.subarray(ranges[i]![0], ranges[i]![0] + ranges[i]![1]))
      );
      const tail = await source.read(data.length - 10, 100);
      assert.deepEqual(tail, data.subarray(data.length - 10));
      const into = new Uint8Array(8);
      assert.equal(await source.read(16, 8, into), into);
      assert.deepEqual(into, data.subarray(16, 24));
      await assert.rejects(source.read(0, 9, into), RangeError);
    } finally {
      source.close();
    }
    await assert.rejects(source.read(0, 1), InputError);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("openFileSource() names the path of a missing file", async () => {
  await assert.rejects(openFileSource("/nonexistent/d2o/model.gguf"), (e: unknown) => {
    assert.ok(e instanceof InputError);
    assert.equal(e.message, 'Cannot open "/nonexistent/d2o/model.gguf": no such file');
    return true;
  });
});

Deno.test("bytesSource() returns copies and short reads at the end", async () => {
  const data = new Uint8Array([1, 2, 3, 4, 5]);
  const source = bytesSource(data);
  const part = await source.read(1, 2);
  assert.deepEqual(part, new Uint8Array([2, 3]));
  part[0] = 99;
  assert.equal(data[1], 2);
  assert.deepEqual(await source.read(3, 10), new Uint8Array([4, 5]));
  assert.deepEqual(await source.read(9, 2), new Uint8Array(0));
});
