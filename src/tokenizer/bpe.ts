/**
 * Byte-level BPE encoding of one pre-tokenized word, as llama.cpp's
 * `llm_tokenizer_bpe` does it: start from one symbol per byte-level
 * character and repeatedly merge the adjacent pair with the lowest merge rank
 * (ties to the leftmost pair) until no ranked pair is left. Symbols form a
 * linked list and candidate pairs wait in a priority queue.
 *
 * @module
 */

import { type Bigram, BigramQueue } from "./bigram_queue.ts";

/** The vocabulary lookups BPE merging needs. */
export interface BpeIndex {
  /** Token id by (byte-level) text. */
  readonly ids: ReadonlyMap<string, number>;
  /** Rank of the merge `left right`, or undefined when the pair never merges. */
  rank(left: string, right: string): number | undefined;
  /** Emit a word that is itself a token without merging (Llama 3 vocabularies). */
  readonly ignoreMerges: boolean;
}

/**
 * Encodes one word (already mapped to byte-level characters) and appends the
 * ids to `out`. A final symbol missing from the vocabulary is emitted as its
 * single-character ASCII tokens where they exist, as llama.cpp does.
 *
 * @example Merging by rank
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeBpeWord } from "./bpe.ts";
 * const vocab = ["a", "b", "c", "ab", "bc"];
 * const merges = new Map([["b c", 0], ["a b", 1]]);
 * const out: number[] = [];
 * encodeBpeWord("abc", {
 *   ids: new Map(vocab.map((t, i) => [t, i])),
 *   rank: (l, r) => merges.get(`${l} ${r}`),
 *   ignoreMerges: false,
 * }, out);
 * assert.ok(out.join() === "0,4"); // "b c" has the lower rank
 * ```
 *
 * @param word byte-level characters of one pre-tokenized word
 * @param index vocabulary lookups
 * @param out receives the token ids
 */
export function encodeBpeWord(word: string, index: BpeIndex, out: number[]): void {
  const n = word.length;
  if (n === 0) return;
  if (index.ignoreMerges) {
    const id = index.ids.get(word);
    if (id !== undefined) {
      out.push(id);
      return;
    }
  }
  // Byte-level characters are all in the BMP: one symbol per UTF-16 unit.
  const len = new Int32Array(n).fill(1);
  const prev = new Int32Array(n);
  const next = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    prev[i] = i - 1;
    next[i] = i + 1 === n ? -1 : i + 1;
  }

  const queue = new BigramQueue();
  const tryAdd = (left: number, right: number): void => {
    if (left < 0 || right < 0) return;
    const rank = index.rank(word.substr(left, len[left]!), word.substr(right, len[right]!));
    if (rank !== undefined) queue.push(-rank, left, right, len[left]! + len[right]!);
  };
  for (let i = 1; i < n; i++) tryAdd(i - 1, i);

  const bigram: Bigram = { priority: 0, left: 0, right: 0, size: 0 };
  while (queue.pop(bigram)) {
    const { left, right } = bigram;
    // Skip pairs whose symbols changed since they were queued.
    if (len[left] === 0 || len[right] === 0 || len[left]! + len[right]! !== bigram.size) continue;
    len[left] = bigram.size;
    len[right] = 0;
    const after = next[right]!;
    next[left] = after;
    if (after >= 0) prev[after] = left;
    tryAdd(prev[left]!, left);
    tryAdd(left, after);
  }

  for (let i = 0; i !== -1; i = next[i]!) {
    const piece = word.substr(i, len[i]!);
    const id = index.ids.get(piece);
    if (id !== undefined) {
      out.push(id);
      continue;
    }
    for (const char of piece) {
      const single = char.charCodeAt(0) < 0x80 ? index.ids.get(char) : undefined;
      if (single !== undefined) out.push(single);
    }
  }
}
