import assert from "node:assert/strict";
import { InputError, UnsupportedError } from "../../src/errors.ts";
import { Tokenizer } from "../../src/tokenizer/tokenizer.ts";
import { TokenType } from "../../src/tokenizer/vocab.ts";
import { modelTokenizer, readOracle } from "./_shared.ts";

const oracle = readOracle();

/** Texts that must survive encode then decode, one per kind of trouble. */
const ROUND_TRIP: Record<string, string> = {
  ascii: "Hello, world! The quick brown fox jumps over the lazy dog. 0123456789 ~`@#$%^&*()",
  accentedLatin: "Crème brûlée, naïve façade, Ångström, Œuvre, Łódź, São Paulo",
  cjk: "日本語のテキスト、中文字符，한국어 텍스트",
  emoji: "👩‍👩‍👧‍👦 family, 🏳️‍🌈 flag, 👍🏽 thumbs, 🇯🇵 🇫🇷, ❤️",
  combiningMarks: "e\u0301 a\u0308 n\u0303 Z\u0335\u0321\u034d \u0915\u094d\u0937",
  tabsAndNewlines: "a\tb\n\nc\r\nd\t\t\n\te",
  longWhitespace: " ".repeat(100) + "x" + "\t".repeat(20) + "\n".repeat(10) + " ".repeat(50),
  surroundingSpaces: "  both ends  ",
  specialLookingText: "<s></s><unk> <0x41>",
  controlCharacters: "\uFEFFbom \u0000 nul \u007f del",
  empty: "",
};

for (
  const [name, cases] of [
    ["stories260K.gguf", oracle.stories260K],
    ["llama-2-tiny-random.gguf", oracle.llama2],
  ] as const
) {
  Deno.test(`encode() gives llama.cpp's ids for every oracle string with ${name}`, async () => {
    const tokenizer = await modelTokenizer(name);
    assert.equal(cases.length, 13);
    for (const { text, ids } of cases) {
      assert.deepEqual(tokenizer.encode(text), ids, JSON.stringify(text));
    }
  });

  Deno.test(`decode(encode(x)) gives x back with ${name}`, async () => {
    const tokenizer = await modelTokenizer(name);
    for (const [kind, text] of Object.entries(ROUND_TRIP)) {
      const ids = tokenizer.encode(text);
      assert.equal(tokenizer.decode(ids, { stripLeadingSpace: true }), text, kind);
      // Without stripping, the dummy prefix shows as one leading space.
      assert.equal(tokenizer.decode(ids), text === "" ? "" : " " + text, kind);
    }
  });

  Deno.test(`decode() gives back every oracle string with ${name}`, async () => {
    const tokenizer = await modelTokenizer(name);
    for (const { text, ids } of cases) {
      assert.equal(tokenizer.decode(ids, { stripLeadingSpace: true }), text);
    }
  });
}

Deno.test("encode() matches the oracle's special-token parsing example with stories260K", async () => {
  const tokenizer = await modelTokenizer("stories260K.gguf");
  const { text, ids_parse_special_true, ids_no_bos_no_parse_special } = oracle.parseSpecial;
  assert.deepEqual(tokenizer.encode(text, { parseSpecial: true }), ids_parse_special_true);
  assert.deepEqual(tokenizer.encode(text, { addBos: false }), ids_no_bos_no_parse_special);
});

Deno.test("the stories260K tokenizer has llama.cpp's SentencePiece defaults", async () => {
  const tokenizer = await modelTokenizer("stories260K.gguf");
  assert.equal(tokenizer.model, "llama");
  assert.equal(tokenizer.size, 512);
  assert.equal(tokenizer.bosId, 1);
  assert.equal(tokenizer.eosId, 2);
  assert.equal(tokenizer.unkId, 0);
  // padding_token_id is 0xFFFFFFFF in the file: no padding token.
  assert.equal(tokenizer.padId, undefined);
  assert.equal(tokenizer.addBos, true);
  assert.equal(tokenizer.addEos, false);
  assert.equal(tokenizer.addSpacePrefix, true);
  assert.equal(tokenizer.tokenText(3), "<0x00>");
  assert.equal(tokenizer.tokenType(3), TokenType.byte);
  assert.equal(tokenizer.tokenType(1), TokenType.control);
});

Deno.test("encode() adds EOS only when asked, and BOS unless told not to", async () => {
  const tokenizer = await modelTokenizer("stories260K.gguf");
  const plain = tokenizer.encode("Once upon a time", { addBos: false });
  assert.deepEqual(plain, [403, 407, 261, 378]);
  assert.deepEqual(tokenizer.encode("Once upon a time", { addEos: true }), [1, ...plain, 2]);
  assert.deepEqual(tokenizer.encode("", { addBos: false }), []);
});

Deno.test("encode() falls back to byte tokens (byte + 3) for characters missing from stories260K", async () => {
  const tokenizer = await modelTokenizer("stories260K.gguf");
  const bytes = [...new TextEncoder().encode("☃")];
  // "▁" is token 410; the snowman is not in the vocabulary.
  assert.deepEqual(tokenizer.encode("☃", { addBos: false }), [410, ...bytes.map((b) => b + 3)]);
});

Deno.test("decode() renders control tokens only with special, and strips the prefix after BOS", async () => {
  const tokenizer = await modelTokenizer("llama-2-tiny-random.gguf");
  const ids = tokenizer.encode("Hello world", { addEos: true });
  assert.deepEqual(ids, [1, 15043, 3186, 2]);
  assert.equal(tokenizer.decode(ids), " Hello world");
  assert.equal(tokenizer.decode(ids, { stripLeadingSpace: true }), "Hello world");
  assert.equal(tokenizer.decode(ids, { special: true }), "<s> Hello world</s>");
  assert.equal(tokenizer.piece(1), "<s>");
  assert.equal(tokenizer.piece(15043), " Hello");
});

Deno.test("tokenBytes() gives a byte token's byte and piece() escapes an incomplete character", async () => {
  const tokenizer = await modelTokenizer("stories260K.gguf");
  for (let byte = 0; byte < 256; byte++) {
    assert.deepEqual(tokenizer.tokenBytes(byte + 3), Uint8Array.of(byte));
  }
  assert.equal(tokenizer.piece(0xE6 + 3), "<0xE6>");
  assert.equal(tokenizer.piece(0x0A + 3), "\n");
});

Deno.test("tokenBytes() rejects an id outside the vocabulary", async () => {
  const tokenizer = await modelTokenizer("stories260K.gguf");
  assert.throws(() => tokenizer.tokenBytes(512), RangeError);
  assert.throws(() => tokenizer.decode([-1]), /Cannot look up token -1: the vocabulary has 512/);
});

/** A tiny SentencePiece-style vocabulary with a user-defined token. */
function tinySpm(extra: Partial<ConstructorParameters<typeof Tokenizer>[0]> = {}): Tokenizer {
  const tokens = ["<unk>", "<s>", "</s>", "▁", "a", "b", "▁a", "<tool>", "<0x63>"];
  return new Tokenizer({
    model: "llama",
    tokens,
    scores: [0, 0, 0, -1, -1, -1, -2, 0, 0],
    tokenTypes: [2, 3, 3, 1, 1, 1, 1, 4, 6],
    ...extra,
  });
}

Deno.test("encode() matches user-defined tokens even without parseSpecial", () => {
  const tokenizer = tinySpm();
  // "<tool>" (7) is user-defined; the text after it gets the dummy prefix again.
  assert.deepEqual(tokenizer.encode("a<tool>b"), [1, 6, 7, 3, 5]);
  assert.deepEqual(tokenizer.encode("<s>a"), [1, 3, 0, 0, 0, 4]);
  assert.deepEqual(tokenizer.encode("<s>a", { parseSpecial: true }), [1, 1, 6]);
});

Deno.test("encode() uses the unknown token for bytes without a byte token", () => {
  const tokenizer = tinySpm();
  // "c" has the byte token <0x63> (8); "é" has none, so each byte becomes <unk>.
  assert.deepEqual(tokenizer.encode("cé", { addBos: false }), [3, 8, 0, 0]);
});

Deno.test("encode() honours add_space_prefix, add_bos_token and add_eos_token", () => {
  const tokenizer = tinySpm({ addSpacePrefix: false, addBos: false, addEos: true });
  assert.deepEqual(tokenizer.encode("a a"), [4, 6, 2]);
  assert.equal(tokenizer.decode([4, 6], { stripLeadingSpace: true }), "a a");
});

Deno.test("new Tokenizer() rejects inconsistent vocabularies", () => {
  assert.throws(() => new Tokenizer({ model: "llama", tokens: [] }), InputError);
  assert.throws(
    () => tinySpm({ scores: [0, 1] }),
    (e: Error) =>
      e instanceof InputError &&
      e.message === "Cannot build tokenizer: tokenizer.ggml.scores has 2 entries for 9 tokens",
  );
  assert.throws(
    () => new Tokenizer({ model: "gpt2", tokens: ["a"] }),
    /a gpt2 vocabulary needs merges/,
  );
  assert.throws(
    () => new Tokenizer({ model: "gpt2", tokens: ["a"], merges: [], addBos: true }),
    /BOS is to be added but there is no BOS token/,
  );
  assert.throws(
    () => new Tokenizer({ model: "gpt2", tokens: ["a"], merges: [], pre: "no-such-pre" }),
    (e: Error) => e instanceof UnsupportedError && /pre-tokenizer "no-such-pre"/.test(e.message),
  );
});
