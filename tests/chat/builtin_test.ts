import assert from "node:assert/strict";
import { BUILTIN_CHAT_FORMATS } from "../../src/chat/builtin.ts";

// Expected texts written from llama.cpp's llama_chat_apply_template for each name.
const CONVERSATION = [
  { role: "system", content: "Be brief." },
  { role: "user", content: "Hi" },
  { role: "assistant", content: " Hello " },
  { role: "user", content: "Bye" },
];

const EXPECTED: Record<string, string> = {
  chatml: "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n" +
    "<|im_start|>assistant\n Hello <|im_end|>\n<|im_start|>user\nBye<|im_end|>\n" +
    "<|im_start|>assistant\n",
  llama2: "[INST] Be brief.\nHi [/INST] Hello </s>[INST] Bye [/INST]",
  "llama2-sys": "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello </s>[INST] Bye [/INST]",
  "llama2-sys-bos":
    "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello </s><s>[INST] Bye [/INST]",
  llama3: "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>" +
    "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>" +
    "<|start_header_id|>assistant<|end_header_id|>\n\nHello<|eot_id|>" +
    "<|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|>" +
    "<|start_header_id|>assistant<|end_header_id|>\n\n",
  "mistral-v1": " [INST] Be brief.\n\nHi [/INST]  Hello </s> [INST] Bye [/INST]",
  "mistral-v3": "[INST] Be brief.\n\nHi[/INST] Hello</s>[INST] Bye[/INST]",
  "mistral-v3-tekken": "[INST]Be brief.\n\nHi[/INST] Hello </s>[INST]Bye[/INST]",
  phi3: "<|system|>\nBe brief.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\n Hello <|end|>\n" +
    "<|user|>\nBye<|end|>\n<|assistant|>\n",
  zephyr: "<|system|>\nBe brief.<|endoftext|>\n<|user|>\nHi<|endoftext|>\n" +
    "<|assistant|>\n Hello <|endoftext|>\n<|user|>\nBye<|endoftext|>\n<|assistant|>\n",
  gemma: "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello" +
    "<end_of_turn>\n<start_of_turn>user\nBye<end_of_turn>\n<start_of_turn>model\n",
};

for (const [name, want] of Object.entries(EXPECTED)) {
  Deno.test(`built-in chat format ${name} writes llama.cpp's text`, () => {
    assert.equal(BUILTIN_CHAT_FORMATS.get(name)!(CONVERSATION, true), want);
  });
}

Deno.test("mistral is Mistral v3, and every built-in has an expected text", () => {
  assert.equal(
    BUILTIN_CHAT_FORMATS.get("mistral")!(CONVERSATION, true),
    EXPECTED["mistral-v3"],
  );
  assert.deepEqual(
    [...BUILTIN_CHAT_FORMATS.keys()].filter((k) => k !== "mistral").sort(),
    Object.keys(EXPECTED).sort(),
  );
});
