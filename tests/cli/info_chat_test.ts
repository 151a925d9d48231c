import assert from "node:assert/strict";
import { runD2o, sharedModel } from "./_run.ts";

const VOCAB = (name: string) => new URL(`../../../shared/vocab/${name}`, import.meta.url).pathname;

Deno.test("info shows the chat template and the end-of-generation tokens", async () => {
  const r = await runD2o(["info", VOCAB("ggml-vocab-qwen2.gguf"), "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  assert.ok(info.chatTemplateLength > 0);
  const texts = info.endOfGeneration.map((t: { text: string }) => t.text);
  assert.ok(texts.includes("<|im_end|>") && texts.includes("<|endoftext|>"), texts.join());
  const text = await runD2o(["info", sharedModel("stories260K.gguf")]);
  assert.match(text.stdout, /chat:\n {2}template +none/);
  assert.match(text.stdout, /end of generation +2 "<\/s>"\n$/);
});
