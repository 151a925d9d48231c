import assert from "node:assert/strict";
import { openGguf } from "../../src/gguf/reader.ts";
import { readHParams } from "../../src/model/hparams.ts";
import { blockTensorName, TN } from "../../src/model/tensor_names.ts";
import { expectedTensors } from "../../src/model/tensor_shapes.ts";

const STORIES = new URL("../../../shared/models/stories260K.gguf", import.meta.url).pathname;

Deno.test("blockTensorName() spells llama.cpp's per-block names", () => {
  assert.equal(blockTensorName(0, "attnNorm"), "blk.0.attn_norm.weight");
  assert.equal(blockTensorName(12, "attnKBias"), "blk.12.attn_k.bias");
  assert.equal(blockTensorName(3, "ffnDown"), "blk.3.ffn_down.weight");
  assert.equal(TN.output, "output.weight");
});

Deno.test("expectedTensors() lists exactly stories260K's 48 tensors with their dims", async () => {
  const file = await openGguf(STORIES);
  try {
    const expected = expectedTensors(readHParams(file.metadata, file.tensors));
    assert.equal(expected.length, 48);
    const actual = new Map(file.tensors.map((t) => [t.name, t.dims]));
    for (const { name, dims } of expected) assert.deepEqual(actual.get(name), dims, name);
    assert.deepEqual(
      expected.find((t) => t.name === "blk.2.attn_k.weight")?.dims,
      [64, 32],
    );
  } finally {
    file.close();
  }
});
