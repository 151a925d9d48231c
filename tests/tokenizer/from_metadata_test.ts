import assert from "node:assert/strict";
import { UnsupportedError } from "../../src/errors.ts";
import { GgufMetadata } from "../../src/gguf/metadata.ts";
import { type GgufEntry, type GgufValue, GgufValueType } from "../../src/gguf/types.ts";
import { tokenizerFromMetadata, vocabFromMetadata } from "../../src/tokenizer/from_metadata.ts";
import { modelTokenizer } from "./_shared.ts";

const str = (value: string): GgufEntry => ({ type: GgufValueType.STRING, value });
const u32 = (value: number): GgufEntry => ({ type: GgufValueType.U32, value });
const bool = (value: boolean): GgufEntry => ({ type: GgufValueType.BOOL, value });
const array = (elementType: GgufValueType, values: GgufValue[]): GgufEntry => ({
  type: GgufValueType.ARRAY,
  value: { elementType, values },
});

function metadata(entries: Record<string, GgufEntry>): GgufMetadata {
  return new GgufMetadata(new Map(Object.entries(entries)));
}

const BASE = {
  "tokenizer.ggml.model": str("llama"),
  "tokenizer.ggml.tokens": array(GgufValueType.STRING, ["<unk>", "<s>", "</s>", "▁", "a"]),
  "tokenizer.ggml.scores": array(GgufValueType.F32, [0, 0, 0, -1, -2]),
  "tokenizer.ggml.token_type": array(GgufValueType.I32, [2, 3, 3, 1, 1]),
};

Deno.test("tokenizerFromMetadata() reads ids and flags, keeping defaults for ids out of range", () => {
  const tokenizer = tokenizerFromMetadata(metadata({
    ...BASE,
    "tokenizer.ggml.bos_token_id": u32(2),
    "tokenizer.ggml.eos_token_id": u32(0xFFFFFFFF),
    "tokenizer.ggml.add_bos_token": bool(false),
    "tokenizer.ggml.add_eos_token": bool(true),
    "tokenizer.ggml.add_space_prefix": bool(false),
  }));
  assert.equal(tokenizer.bosId, 2);
  assert.equal(tokenizer.eosId, 2); // 0xFFFFFFFF is out of range: the llama default 2
  assert.deepEqual(tokenizer.encode("a"), [4, 2]);
});

Deno.test("tokenizerFromMetadata() rejects tokenizer models it does not implement", () => {
  for (const model of ["bert", "t5", "rwkv"]) {
    assert.throws(
      () => tokenizerFromMetadata(metadata({ ...BASE, "tokenizer.ggml.model": str(model) })),
      (e: Error) =>
        e instanceof UnsupportedError &&
        e.message ===
          `Cannot build tokenizer: tokenizer model "${model}" (tokenizer.ggml.model) is not supported (supported: "llama", "gpt2")`,
    );
  }
  assert.throws(() => vocabFromMetadata(metadata({})), /tokenizer\.ggml\.model is missing/);
});

Deno.test("tokenizerFromMetadata() needs merges for gpt2 and reads the pre-tokenizer name", () => {
  const gpt2 = { ...BASE, "tokenizer.ggml.model": str("gpt2") };
  assert.throws(() => tokenizerFromMetadata(metadata(gpt2)), /tokenizer\.ggml\.merges/);
  const tokenizer = tokenizerFromMetadata(metadata({
    ...gpt2,
    "tokenizer.ggml.merges": array(GgufValueType.STRING, ["▁ a"]),
    "tokenizer.ggml.pre": str("qwen2"),
    "tokenizer.ggml.bos_token_id": u32(1),
  }));
  assert.equal(tokenizer.preTokenizer, "qwen2");
  assert.equal(tokenizer.addBos, false); // qwen2 adds no BOS unless add_bos_token says so
  assert.equal(tokenizer.addSpacePrefix, false);
});

Deno.test("tokenizerFromMetadata() reads the Llama 2 vocabulary of llama-2-tiny-random.gguf", async () => {
  const tokenizer = await modelTokenizer("llama-2-tiny-random.gguf");
  assert.equal(tokenizer.size, 32000);
  assert.equal(tokenizer.tokenText(29871), "▁");
  assert.deepEqual([tokenizer.bosId, tokenizer.eosId, tokenizer.unkId], [1, 2, 0]);
});
