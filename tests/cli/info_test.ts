import assert from "node:assert/strict";
import { runD2o, sharedModel } from "./_run.ts";

const STORIES = sharedModel("stories260K.gguf");

Deno.test("d2o info --json reports the stories260K facts of the models README", async () => {
  const { code, stdout, stderr } = await runD2o(["info", STORIES, "--json"]);
  assert.equal(code, 0, stderr);
  const info = JSON.parse(stdout);
  assert.equal(info.architecture, "llama");
  assert.equal(info.ggufVersion, 3);
  assert.equal(info.fileBytes, 1185376);
  assert.equal(info.contextLength, 2048);
  assert.equal(info.embeddingLength, 64);
  assert.equal(info.layers, 5);
  assert.equal(info.heads, 8);
  assert.equal(info.kvHeads, 4);
  assert.equal(info.headSize, 8);
  assert.equal(info.feedForwardLength, 172);
  assert.equal(info.ropeFreqBase, 10000);
  assert.equal(info.ropeDimensions, 8);
  assert.equal(info.ropeStyle, "norm");
  assert.equal(info.rmsNormEpsilon, 1e-5);
  assert.equal(info.vocabularySize, 512);
  assert.equal(info.tokenizerModel, "llama");
  assert.equal(info.bosTokenId, 1);
  assert.equal(info.eosTokenId, 2);
  assert.equal(info.tiedEmbeddings, false);
  assert.equal(info.tensorCount, 48);
  assert.deepEqual(Object.keys(info.tensorTypes), ["F32"]);
  assert.equal(info.tensorTypes.F32.tensors, 48);
  // Parameters: embeddings and output (2 x 64 x 512), final norm, and per block
  // q, k, v, o, gate, up, down and two norms.
  const perBlock = 64 * 64 + 2 * 64 * 32 + 64 * 64 + 3 * 64 * 172 + 2 * 64;
  assert.equal(info.parameterCount, 2 * 64 * 512 + 64 + 5 * perBlock);
  // F32 tensor bytes are 4 per parameter.
  assert.equal(info.tensorTypes.F32.bytes, 4 * info.parameterCount);
});

Deno.test("d2o info shows the tensor types of the Q8_0 mix", async () => {
  const { code, stdout } = await runD2o(["info", sharedModel("stories260K-Q8_0-mix.gguf")]);
  assert.equal(code, 0);
  assert.match(stdout, /^architecture\s+llama$/m);
  // 32 matrices with 64-wide rows became Q8_0, the 5 ffn_down F16, 11 norms F32.
  assert.match(stdout, /Q8_0\s+32 tensors/);
  assert.match(stdout, /F16\s+5 tensors/);
  assert.match(stdout, /F32\s+11 tensors/);
});
