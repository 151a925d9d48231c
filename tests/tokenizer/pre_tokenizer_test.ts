import assert from "node:assert/strict";
import { UnsupportedError } from "../../src/errors.ts";
import {
  preTokenize,
  preTokenizerKind,
  preTokenizerSpec,
} from "../../src/tokenizer/pre_tokenizer.ts";

// Expected splits derived by hand from the patterns llama.cpp uses:
// gpt2:   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
// llama3: (?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+
//         |\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// qwen2:  as llama3 with \p{N} (one digit per word)
// default: [\p{P}$+<=>^~|]+, then gpt2, then \p{N}+, then [0-9][0-9][0-9], each
//          splitting the previous chunks; text between matches stays a chunk.
const TEXT = "Hello world's it'S 12345  end!!\n\nnext";

Deno.test("preTokenize() splits like GPT-2: lowercase contractions, digit runs, one space kept", () => {
  assert.deepEqual(preTokenize(TEXT, "gpt2"), [
    "Hello",
    " world",
    "'s",
    " it",
    "'",
    "S",
    " 12345",
    " ",
    " end",
    "!!",
    "\n",
    "\n",
    "next",
  ]);
});

Deno.test("preTokenize() splits like Llama 3: any-case contractions, three digits, newlines", () => {
  assert.deepEqual(preTokenize(TEXT, "llama3"), [
    "Hello",
    " world",
    "'s",
    " it",
    "'S",
    " ",
    "123",
    "45",
    " ",
    " end",
    "!!\n\n",
    "next",
  ]);
});

Deno.test("preTokenize() splits like Qwen 2: single digits", () => {
  assert.deepEqual(preTokenize(TEXT, "qwen2"), [
    "Hello",
    " world",
    "'s",
    " it",
    "'S",
    " ",
    "1",
    "2",
    "3",
    "4",
    "5",
    " ",
    " end",
    "!!\n\n",
    "next",
  ]);
});

Deno.test("preTokenize() runs llama.cpp's default chain of four expressions", () => {
  assert.deepEqual(preTokenize(TEXT, "default"), [
    "Hello",
    " world",
    "'",
    "s",
    " it",
    "'",
    "S",
    " ",
    "123",
    "45",
    " ",
    " end",
    "!!",
    "\n",
    "\n",
    "next",
  ]);
});

Deno.test("preTokenize() keeps trailing whitespace runs whole and splits tabs before a word", () => {
  assert.deepEqual(preTokenize("a   ", "gpt2"), ["a", "   "]);
  assert.deepEqual(preTokenize("a   ", "llama3"), ["a", "   "]);
  assert.deepEqual(preTokenize("a\t\tb", "gpt2"), ["a", "\t", "\t", "b"]);
  assert.deepEqual(preTokenize("a\t\tb", "llama3"), ["a", "\t", "\tb"]);
  assert.deepEqual(preTokenize("a \n\n b", "gpt2"), ["a", " \n\n", " b"]);
  assert.deepEqual(preTokenize("a \n\n b", "llama3"), ["a", " \n\n", " b"]);
});

Deno.test("preTokenize() handles contractions and punctuation per family", () => {
  assert.deepEqual(preTokenize("we'VE they'll", "gpt2"), ["we", "'", "VE", " they", "'ll"]);
  assert.deepEqual(preTokenize("we'VE they'll", "llama3"), ["we", "'VE", " they", "'ll"]);
  assert.deepEqual(preTokenize("x = (y+1);\n", "llama3"), ["x", " =", " (", "y", "+", "1", ");\n"]);
  assert.deepEqual(preTokenize("x = (y+1);\n", "gpt2"), [
    "x",
    " =",
    " (",
    "y",
    "+",
    "1",
    ");",
    "\n",
  ]);
});

Deno.test("preTokenize() uses llama.cpp's whitespace set, not JavaScript's", () => {
  // U+0085 is whitespace for llama.cpp (not for JS \s); U+FEFF is the reverse.
  assert.deepEqual(preTokenize("a\u0085\u0085b", "gpt2"), ["a", "\u0085", "\u0085", "b"]);
  assert.deepEqual(preTokenize("a \uFEFF", "gpt2"), ["a", " \uFEFF"]);
});

Deno.test("preTokenize() treats letters and digits of every script alike", () => {
  assert.deepEqual(preTokenize("日本語 ١٢٣٤ café", "llama3"), ["日本語", " ", "١٢٣", "٤", " café"]);
  assert.deepEqual(preTokenize("", "llama3"), []);
});

Deno.test("preTokenizerKind() maps tokenizer.ggml.pre names and rejects unknown ones", () => {
  assert.equal(preTokenizerKind(undefined), "default");
  assert.equal(preTokenizerKind("gpt-2"), "gpt2");
  assert.equal(preTokenizerKind("llama-bpe"), "llama3");
  assert.equal(preTokenizerKind("qwen2"), "qwen2");
  assert.equal(preTokenizerKind("tekken"), "tekken");
  assert.throws(() => preTokenizerKind("no-such-pre"), UnsupportedError);
});

Deno.test("preTokenizerSpec() gives Llama 3's names whole-word merging and BOS, smaug-bpe neither", () => {
  for (const name of ["llama-bpe", "llama3", "tekken"]) {
    assert.deepEqual(
      [preTokenizerSpec(name).ignoreMerges, preTokenizerSpec(name).addBos],
      [true, true],
    );
  }
  for (const name of ["smaug-bpe", "dbrx", "qwen2", "deepseek-llm"]) {
    assert.deepEqual(
      [preTokenizerSpec(name).ignoreMerges, preTokenizerSpec(name).addBos],
      [false, false],
    );
  }
  assert.equal(preTokenizerSpec("smaug-bpe").kind, "llama3");
});

Deno.test("preTokenize() splits digits one by one for starcoder and deepseek-coder", () => {
  assert.deepEqual(preTokenize("ab 123", "starcoder"), ["ab", " ", "1", "2", "3"]);
  assert.deepEqual(preTokenize("ab 123", "deepseek-coder"), ["ab", " ", "1", "2", "3"]);
  assert.deepEqual(preTokenize("ab 12345", "deepseek-llm"), ["ab", " ", "12345"]);
  assert.deepEqual(preTokenize("ab 12345", "deepseek3"), ["ab", " ", "123", "45"]);
});

Deno.test("preTokenize() splits cased words for tekken and gpt-4o", () => {
  assert.deepEqual(preTokenize("HelloWorld it's", "tekken"), ["Hello", "World", " it", "'s"]);
  assert.deepEqual(preTokenize("HelloWorld it's", "gpt4o"), ["Hello", "World", " it's"]);
  assert.deepEqual(preTokenize("a/b\n", "tekken"), ["a", "/b", "\n"]);
});

Deno.test("preTokenize() sees non-ASCII whitespace as U+000B, like llama.cpp", () => {
  // U+3000 is whitespace to \\s, U+FEFF is not (JavaScript's \\s says the reverse for U+FEFF).
  assert.deepEqual(preTokenize("\u3000b", "deepseek-coder"), ["\u3000b"]);
  assert.deepEqual(preTokenize("\uFEFFb", "deepseek-coder"), ["\uFEFF", "b"]);
  // U+3000 also lies in deepseek-llm's CJK range, which sees it as U+000B.
  assert.deepEqual(preTokenize("a\u3000。", "deepseek-llm"), ["a", "\u3000", "。"]);
});
