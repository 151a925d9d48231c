import assert from "node:assert/strict";
import { InputError } from "../../src/errors.ts";
import { GgmlType } from "../../src/gguf/ggml_type.ts";
import { openModel } from "../../src/model/model_file.ts";

const MODELS = new URL("../../../shared/models/", import.meta.url);

Deno.test("openModel() opens stories260K with its own lm_head", async () => {
  const model = await openModel(new URL("stories260K.gguf", MODELS).pathname);
  try {
    assert.equal(model.hparams.nLayer, 5);
    assert.equal(model.lmHead.name, "output.weight");
    assert.deepEqual(model.lmHead.dims, [64, 512]);
    const q = model.tensor("blk.4.attn_q.weight");
    assert.equal(q.type, GgmlType.F32);
    const bytes = await model.readTensor("blk.0.attn_k.weight");
    assert.equal(bytes.length, 64 * 32 * 4);
  } finally {
    model.close();
  }
});

Deno.test("openModel() keeps each tensor's own type in the Q8_0 mix", async () => {
  const model = await openModel(new URL("stories260K-Q8_0-mix.gguf", MODELS).pathname);
  try {
    assert.equal(model.tensor("blk.0.attn_q.weight").type, GgmlType.Q8_0);
    assert.equal(model.tensor("blk.0.ffn_down.weight").type, GgmlType.F16);
    assert.equal(model.tensor("blk.0.attn_norm.weight").type, GgmlType.F32);
  } finally {
    model.close();
  }
});

Deno.test("ModelFile.tensor() names a tensor the file lacks", async () => {
  const path = new URL("stories260K.gguf", MODELS).pathname;
  const model = await openModel(path);
  try {
    assert.throws(
      () => model.tensor("blk.9.attn_q.weight"),
      (e: unknown) =>
        e instanceof InputError &&
        e.message === `Cannot find tensor "blk.9.attn_q.weight" in "${path}"`,
    );
  } finally {
    model.close();
  }
});

Deno.test("openModel() rejects a missing file with InputError", async () => {
  await assert.rejects(() => openModel("/nonexistent/model.gguf"), InputError);
});
