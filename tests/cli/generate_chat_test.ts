import assert from "node:assert/strict";
import { writeChatStopModel } from "../../fixtures/chat_stop.ts";
import { gpuTestOptions } from "../_gpu.ts";
import { runD2o, sharedModel } from "./_run.ts";

const VOCAB = (name: string) => new URL(`../../../shared/vocab/${name}`, import.meta.url).pathname;
const TEMPLATES = (name: string) =>
  new URL(`../../../shared/templates/${name}`, import.meta.url).pathname;

Deno.test("generate --print-prompt renders the file's template with --system and --chat-date", async () => {
  const r = await runD2o([
    "generate",
    "-m",
    VOCAB("ggml-vocab-qwen2.gguf"),
    "--system",
    "Be brief.",
    "--print-prompt",
    "Hi",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
  );
});

Deno.test("generate --chat-template NAME and --chat-messages FILE", async () => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/m.json`;
  await Deno.writeTextFile(file, JSON.stringify([{ role: "user", content: "a" }]));
  const r = await runD2o([
    "generate",
    "-m",
    sharedModel("stories260K.gguf"),
    "--chat-template",
    "zephyr",
    "--chat-messages",
    file,
    "--print-prompt",
  ]);
  await Deno.remove(dir, { recursive: true });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "<|user|>\na<|endoftext|>\n<|assistant|>\n");
});

Deno.test("a template's own error is one d2o: line and exit 2", async () => {
  const r = await runD2o([
    "generate",
    "-m",
    VOCAB("ggml-vocab-qwen2.gguf"),
    "--chat-template",
    TEMPLATES("google-gemma-2-2b-it.jinja"),
    "--system",
    "S",
    "--print-prompt",
    "Hi",
  ]);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, "");
  assert.equal(r.stderr, "d2o: Cannot render the chat template: System role not supported\n");
});

Deno.test("--chat on a model without a template names the built-ins (exit 2)", async () => {
  const r = await runD2o(["generate", "-m", sharedModel("stories260K.gguf"), "--chat", "Hi"]);
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /^d2o: Cannot build a chat prompt: the model has no chat template .*chatml/,
  );
  assert.equal(r.stderr.split("\n").length, 2);
});

Deno.test("--chat-date fixes strftime_now", async () => {
  const r = await runD2o([
    "generate",
    "-m",
    VOCAB("ggml-vocab-llama-bpe.gguf"),
    "--chat-template",
    TEMPLATES("meta-llama-Llama-3.2-3B-Instruct.jinja"),
    "--chat-date",
    "2026-03-07",
    "--print-prompt",
    "Hi",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Today Date: 07 Mar 2026/);
});

// <|eot_id|> is not Llama 3's EOS (<|end_of_text|>); <|im_end|> is Qwen's EOS, <|endoftext|> not.
for (
  const [vocab, answer, turnEnd] of [
    ["ggml-vocab-llama-bpe.gguf", "<|eot_id|>", 128009],
    ["ggml-vocab-qwen2.gguf", "<|im_end|>", 151645],
    ["ggml-vocab-qwen2.gguf", "<|endoftext|>", 151645],
  ] as const
) {
  Deno.test({
    name: `generate --chat with ${vocab}'s template stops on ${answer}`,
    ...gpuTestOptions,
    async fn() {
      const dir = await Deno.makeTempDir({ prefix: "d2o-chat-" });
      try {
        const path = `${dir}/model.gguf`;
        const id = await writeChatStopModel(VOCAB(vocab), answer, path);
        const args = ["generate", "-m", path, "--chat", "--temp", "0", "-n", "8", "--json", "Hi"];
        const stopped = await runD2o(args);
        assert.equal(stopped.code, 0, stopped.stderr);
        const result = JSON.parse(stopped.stdout);
        assert.deepEqual([result.tokens, result.stopReason, result.text], [[id], "eos", ""]);
        // The prompt went through the template, its special tokens parsed (the turn-end id).
        assert.ok(result.promptTokens.includes(turnEnd), result.promptTokens.join(" "));
        const ignored = JSON.parse((await runD2o([...args, "--ignore-eos"])).stdout);
        assert.deepEqual([ignored.tokens.length, ignored.stopReason], [8, "max_tokens"]);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}
