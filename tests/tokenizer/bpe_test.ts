import assert from "node:assert/strict";
import { type BpeIndex, encodeBpeWord } from "../../src/tokenizer/bpe.ts";

function index(vocab: string[], merges: string[], ignoreMerges = false): BpeIndex {
  const ranks = new Map(merges.map((m, i) => [m, i]));
  return {
    ids: new Map(vocab.map((t, i) => [t, i])),
    rank: (l, r) => ranks.get(`${l} ${r}`),
    ignoreMerges,
  };
}

function encode(word: string, idx: BpeIndex): number[] {
  const out: number[] = [];
  encodeBpeWord(word, idx, out);
  return out;
}

Deno.test("encodeBpeWord() applies merges lowest rank first", () => {
  const vocab = ["a", "b", "c", "ab", "bc", "abc"];
  assert.deepEqual(encode("abc", index(vocab, ["a b", "ab c"])), [5]);
  assert.deepEqual(encode("abc", index(vocab, ["b c", "a b"])), [0, 4]);
});

Deno.test("encodeBpeWord() with ignoreMerges emits a whole-word token without merging", () => {
  const vocab = ["a", "b", "c", "ab", "abc"];
  assert.deepEqual(encode("abc", index(vocab, ["a b"])), [3, 2]);
  assert.deepEqual(encode("abc", index(vocab, ["a b"], true)), [4]);
});

Deno.test("encodeBpeWord() keeps only ASCII single-character tokens of an unknown symbol", () => {
  // "x" and "Ġ" are not tokens: "x" is dropped like llama.cpp's per-byte lookup
  // drops it, and so is "Ġ" (two UTF-8 bytes, neither a token).
  assert.deepEqual(encode("axĠb", index(["a", "b"], [])), [0, 1]);
});
