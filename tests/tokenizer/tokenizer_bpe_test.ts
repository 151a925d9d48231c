import assert from "node:assert/strict";
import { BYTE_TO_CHAR } from "../../src/tokenizer/byte_level.ts";
import { Tokenizer } from "../../src/tokenizer/tokenizer.ts";
import { TokenType } from "../../src/tokenizer/vocab.ts";

// A byte-level vocabulary written by hand: ids 0..255 are the 256 byte
// characters in byte order (so a byte's id is the byte), then these merges:
const MERGES = [
  "Ġ t", // 0 -> Ġt    256
  "h e", // 1 -> he    257
  "Ġt he", // 2 -> Ġthe 258
  "1 2", // 3 -> 12    259
  "12 3", // 4 -> 123  260
  "' s", // 5 -> 's    261
  "Ġ Ġ", // 6 -> ĠĠ    262
  "l l", // 7 -> ll    263
  "e ll", // 8 -> ell  264
  "h ell", // 9 -> hell 265
  "hell o", // 10 -> hello 266
];
const MERGED = [
  "Ġt",
  "he",
  "Ġthe",
  "12",
  "123",
  "'s",
  "ĠĠ",
  "ll",
  "ell",
  "hell",
  "hello",
];
const BOS = 267;
const EOS = 268;
const TOKENS = [...BYTE_TO_CHAR, ...MERGED, "<|bos|>", "<|eos|>"];
const TYPES = TOKENS.map((_, id) => id >= BOS ? TokenType.control : TokenType.normal);
const [HE, THE, N123, APOS_S, SPACE2, LL, HELLO] = [
  257,
  258,
  260,
  261,
  262,
  263,
  266,
];
const byte = (char: string) => char.charCodeAt(0);

function bpe(pre: string, extra: { addBos?: boolean } = {}): Tokenizer {
  return new Tokenizer({
    model: "gpt2",
    pre,
    tokens: TOKENS,
    tokenTypes: TYPES,
    merges: MERGES,
    bosId: BOS,
    eosId: EOS,
    ...extra,
  });
}

const TEXT = "hello the 12345's";

Deno.test("encode() with the gpt2 pre-tokenizer merges by rank within each word", () => {
  // Words: "hello" " the" " 12345" "'s". In "hello", "h e" (rank 1) beats
  // "l l" (rank 7), and "he"+"ll" never merges, so "hello" is not reached.
  assert.deepEqual(bpe("gpt-2").encode(TEXT), [
    HE,
    LL,
    byte("o"),
    THE,
    byte(" "),
    N123,
    byte("4"),
    byte("5"),
    APOS_S,
  ]);
});

Deno.test("encode() with the llama-bpe pre-tokenizer takes whole-word tokens and adds BOS", () => {
  // Words: "hello" " the" " " "123" "45" "'s"; Llama 3 skips merging for a word
  // that is itself a token ("hello", "Ġthe", "123").
  assert.deepEqual(bpe("llama-bpe").encode(TEXT), [
    BOS,
    HELLO,
    THE,
    byte(" "),
    N123,
    byte("4"),
    byte("5"),
    APOS_S,
  ]);
});

Deno.test("encode() with the qwen2 pre-tokenizer keeps digits apart", () => {
  assert.deepEqual(bpe("qwen2").encode(TEXT), [
    HE,
    LL,
    byte("o"),
    THE,
    byte(" "),
    ...[..."12345"].map(byte),
    APOS_S,
  ]);
});

Deno.test("encode() with the default pre-tokenizer splits punctuation and digit triples first", () => {
  // Words: "hello" " the" " " "123" "45" "'" "s".
  assert.deepEqual(bpe("default").encode(TEXT), [
    HE,
    LL,
    byte("o"),
    THE,
    byte(" "),
    N123,
    byte("4"),
    byte("5"),
    byte("'"),
    byte("s"),
  ]);
});

Deno.test("encode() breaks rank ties to the leftmost pair", () => {
  // "x   " -> "x" "   "; both "Ġ Ġ" pairs have rank 6, the left one merges.
  assert.deepEqual(bpe("gpt-2").encode("x   "), [byte("x"), SPACE2, byte(" ")]);
  // "  the" -> " " " the".
  assert.deepEqual(bpe("gpt-2").encode("  the"), [byte(" "), THE]);
});

Deno.test("encode() recognises control tokens only with parseSpecial and honours add_bos_token", () => {
  const tokenizer = bpe("gpt-2", { addBos: true });
  assert.deepEqual(tokenizer.encode("<|eos|>he", { parseSpecial: true }), [
    BOS,
    EOS,
    HE,
  ]);
  assert.deepEqual(
    tokenizer.encode("<|eos|>", { addBos: false }),
    [..."<|eos|>"].map(byte),
  );
  assert.deepEqual(bpe("qwen2").encode("he", { addEos: true }), [HE, EOS]);
});

Deno.test("decode() gives every byte 0..255 back from its byte-level token", () => {
  const tokenizer = bpe("gpt-2");
  for (let b = 0; b < 256; b++) {
    assert.deepEqual(tokenizer.decodeBytes([b]), Uint8Array.of(b), `byte ${b}`);
  }
  assert.deepEqual(
    tokenizer.decodeBytes([...Array(256).keys()]),
    Uint8Array.from(Array(256).keys()),
  );
});

Deno.test("decode(encode(x)) gives x back for any text with a byte-level vocabulary", () => {
  const texts = [
    TEXT,
    "Crème brûlée 日本語 👩‍👩‍👧‍👦 e\u0301 \t\n\r\n" + " ".repeat(40),
    "<|bos|> stays text",
    "",
  ];
  for (const pre of ["gpt-2", "llama-bpe", "qwen2", "default"]) {
    const tokenizer = bpe(pre);
    for (const text of texts) {
      assert.equal(
        tokenizer.decode(tokenizer.encode(text), { stripLeadingSpace: true }),
        text,
      );
    }
  }
});

Deno.test("decode() of a byte-level vocabulary hides control tokens unless special", () => {
  const tokenizer = bpe("llama-bpe");
  const ids = tokenizer.encode("hello", { addEos: true });
  assert.deepEqual(ids, [BOS, HELLO, EOS]);
  assert.equal(tokenizer.decode(ids), "hello");
  assert.equal(tokenizer.decode(ids, { special: true }), "<|bos|>hello<|eos|>");
  assert.equal(tokenizer.piece(THE), " the");
  assert.equal(tokenizer.piece(0xE6), "<0xE6>");
});
