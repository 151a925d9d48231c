import assert from "node:assert/strict";
import { openGguf } from "../../src/gguf/reader.ts";
import { vocabFromMetadata } from "../../src/tokenizer/from_metadata.ts";
import { encodeSpm, type SpmIndex } from "../../src/tokenizer/spm.ts";
import { sharedPath } from "./_shared.ts";

/**
 * An index over `vocab` with `scores`; byte b becomes token 1000 + b.
 * `joins` is exact (pairs of characters adjacent inside a token) unless
 * `neverCut`, which makes it always true: one merge pass over the whole text.
 */
function index(vocab: readonly string[], scores: ArrayLike<number>, neverCut = false): SpmIndex {
  const pairs = new Set<string>();
  for (const token of vocab) {
    const chars = [...token];
    for (let i = 1; i < chars.length; i++) pairs.add(chars[i - 1]! + chars[i]!);
  }
  return {
    ids: new Map(vocab.map((t, i) => [t, i])),
    score: (id) => scores[id]!,
    byteToken: (b) => 1000 + b,
    joins: (l, r) => neverCut || pairs.has(String.fromCodePoint(l, r)),
  };
}

function encode(text: string, vocab: string[], scores: number[]): number[] {
  const out: number[] = [];
  encodeSpm(text, index(vocab, scores), out);
  return out;
}

Deno.test("encodeSpm() merges the highest-scoring pair first", () => {
  // "bc" (-1) beats "ab" (-2): a + bc, and "abc" is not reachable from a|bc.
  assert.deepEqual(encode("abc", ["a", "b", "c", "ab", "bc"], [0, 0, 0, -2, -1]), [0, 4]);
  // With the scores swapped, ab + c.
  assert.deepEqual(encode("abc", ["a", "b", "c", "ab", "bc"], [0, 0, 0, -1, -2]), [3, 2]);
});

Deno.test("encodeSpm() breaks score ties to the leftmost pair", () => {
  assert.deepEqual(encode("aaa", ["a", "aa"], [0, -1]), [1, 0]);
});

Deno.test("encodeSpm() keeps merging merged symbols", () => {
  // cd (-1), then ab (-2), then ab+cd (-3).
  const vocab = ["a", "b", "c", "d", "ab", "cd", "abcd"];
  assert.deepEqual(encode("abcd", vocab, [0, 0, 0, 0, -2, -1, -3]), [6]);
});

Deno.test("encodeSpm() falls back to UTF-8 bytes for characters missing from the vocabulary", () => {
  // "é" is C3 A9; "😀" is F0 9F 98 80 (a surrogate pair in JavaScript).
  assert.deepEqual(
    encode("aé😀", ["a"], [0]),
    [0, 1000 + 0xC3, 1000 + 0xA9, 1000 + 0xF0, 1000 + 0x9F, 1000 + 0x98, 1000 + 0x80],
  );
  assert.deepEqual(encode("", ["a"], [0]), []);
});

Deno.test("encodeSpm() merges across a surrogate pair only as a whole character", () => {
  assert.deepEqual(encode("😀😀", ["😀", "😀😀"], [0, -1]), [1]);
});

Deno.test("encodeSpm() gives the same ids when it cuts a long text into segments", async () => {
  const story = Deno.readTextFileSync(sharedPath("oracle/ppl-text.txt"));
  const texts = [
    story,
    "▁" + "word▁".repeat(40) + "▁".repeat(300) + "x".repeat(200) + "日本語".repeat(50),
  ];
  for (const model of ["stories260K.gguf", "llama-2-tiny-random.gguf"]) {
    const file = await openGguf(sharedPath(`models/${model}`));
    const vocab = vocabFromMetadata(file.metadata);
    file.close();
    for (const text of texts) {
      const escaped = ("▁" + text).replaceAll(" ", "▁");
      const segmented: number[] = [];
      encodeSpm(escaped, index(vocab.tokens, vocab.scores!), segmented);
      const whole: number[] = [];
      encodeSpm(escaped, index(vocab.tokens, vocab.scores!, true), whole);
      assert.deepEqual(segmented, whole, model);
    }
  }
});
