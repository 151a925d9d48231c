import assert from "node:assert/strict";
import {
  ARCHITECTURES,
  ropeStyleOf,
  RUNNABLE_ARCHITECTURES,
} from "../../src/model/architecture.ts";
import { BLOCK_TENSORS } from "../../src/model/tensor_names.ts";

Deno.test("the architecture table: RoPE pairing, biases and block tensors per family", () => {
  assert.equal(RUNNABLE_ARCHITECTURES, "llama, mistral and qwen2");
  assert.equal(ropeStyleOf("llama"), "norm");
  assert.equal(ropeStyleOf("qwen2"), "neox");
  assert.equal(ropeStyleOf("gemma2"), "neox");
  assert.equal(ropeStyleOf("unknown-arch"), "norm");
  const qwen2 = ARCHITECTURES.get("qwen2")!;
  assert.ok(qwen2.qkvBias && qwen2.blockTensors.includes("attnQBias"));
  const llama = ARCHITECTURES.get("llama")!;
  assert.ok(!llama.qkvBias && !llama.blockTensors.includes("attnQBias"));
  for (const arch of ARCHITECTURES.values()) {
    for (const kind of arch.blockTensors) assert.ok(kind in BLOCK_TENSORS);
  }
});
