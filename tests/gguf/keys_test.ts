import assert from "node:assert/strict";
import { archKey, KV } from "../../src/gguf/keys.ts";

Deno.test("archKey() fills the architecture into a key template", () => {
  assert.equal(archKey(KV.contextLength, "qwen2"), "qwen2.context_length");
  assert.equal(archKey(KV.ropeScalingType, "llama"), "llama.rope.scaling.type");
  assert.equal(
    archKey(KV.attentionLayerNormRmsEpsilon, "llama"),
    "llama.attention.layer_norm_rms_epsilon",
  );
});

Deno.test("archKey() rejects a key without a placeholder", () => {
  assert.throws(() => archKey(KV.tokenizerTokens, "llama"), RangeError);
});

Deno.test("KV keys are unique and templates sit only in per-architecture keys", () => {
  const values = Object.values(KV);
  assert.equal(new Set(values).size, values.length);
  for (const key of values) {
    assert.match(key, /^(general|tokenizer|%s)\.[a-z_.]+$/);
  }
});
