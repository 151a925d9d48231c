/**
 * SentencePiece-style encoding of one piece of text, as llama.cpp's
 * `llm_tokenizer_spm` does it: split into characters, then repeatedly merge
 * the adjacent pair whose union is the vocabulary token with the highest
 * score (ties to the leftmost pair), and finally emit byte-fallback tokens
 * for characters the vocabulary lacks. The symbols form a linked list and
 * candidate pairs wait in a priority queue, so the work is O(n log n).
 *
 * Long texts are cut into segments where no token can span the cut: when two
 * adjacent characters never appear next to each other inside any token, no
 * merge can join them, so merging on each side is independent and the result
 * equals one pass over the whole text (the relative order of merges within a
 * segment is the same). This keeps the queue small.
 *
 * @module
 */

import { type Bigram, BigramQueue } from "./bigram_queue.ts";

/** The vocabulary lookups SentencePiece-style merging needs. */
export interface SpmIndex {
  /** Token id by text (the last id wins for duplicate texts, as in llama.cpp). */
  readonly ids: ReadonlyMap<string, number>;
  /** Merge score of a token; larger merges first. */
  score(id: number): number;
  /** The token emitted for a byte of a character missing from the vocabulary. */
  byteToken(byte: number): number;
  /** Whether code point `left` directly followed by `right` occurs inside some token. */
  joins(left: number, right: number): boolean;
}

/** Segments are cut only after at least this many characters. */
const MIN_SEGMENT = 64;

const encoder = new TextEncoder();

/**
 * Encodes `text` (spaces already replaced by `▁`, dummy prefix already added)
 * and appends the ids to `out`.
 *
 * @example Merging by score
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeSpm } from "./spm.ts";
 * const vocab = ["a", "b", "c", "ab", "bc"];
 * const scores = [0, 0, 0, -2, -1];
 * const out: number[] = [];
 * encodeSpm("abc", {
 *   ids: new Map(vocab.map((t, i) => [t, i])),
 *   score: (id) => scores[id]!,
 *   byteToken: () => 0,
 *   joins: () => true,
 * }, out);
 * assert.ok(out.join() === "0,4"); // "bc" scores higher than "ab"
 * ```
 *
 * @param text the text to encode
 * @param index vocabulary lookups
 * @param out receives the token ids
 */
export function encodeSpm(text: string, index: SpmIndex, out: number[]): void {
  const n = text.length;
  if (n === 0) return;
  // One symbol per code point: its code point, start offset and length in
  // UTF-16 units, and list links (cut at segment boundaries).
  const cps = new Int32Array(n);
  const start = new Int32Array(n);
  const len = new Int32Array(n);
  const prev = new Int32Array(n);
  const next = new Int32Array(n);
  const segments = [0];
  let count = 0;
  for (let i = 0; i < n;) {
    const cp = text.codePointAt(i)!;
    const width = cp > 0xFFFF ? 2 : 1;
    let segmentStart = segments[segments.length - 1]!;
    if (count - segmentStart >= MIN_SEGMENT && !index.joins(cps[count - 1]!, cp)) {
      next[count - 1] = -1;
      segments.push(segmentStart = count);
    }
    cps[count] = cp;
    start[count] = i;
    len[count] = width;
    prev[count] = count === segmentStart ? -1 : count - 1;
    i += width;
    next[count] = i === n ? -1 : count + 1;
    count++;
  }
  segments.push(count);

  const queue = new BigramQueue();
  const tryAdd = (left: number, right: number): void => {
    // Symbol `right` starts at character `right`, so the pair meets at cps[right - 1], cps[right].
    if (left < 0 || right < 0 || !index.joins(cps[right - 1]!, cps[right]!)) return;
    const from = start[left]!;
    const size = len[left]! + len[right]!;
    const id = index.ids.get(text.substring(from, from + size));
    if (id !== undefined) queue.push(index.score(id), left, right, size);
  };

  const bigram: Bigram = { priority: 0, left: 0, right: 0, size: 0 };
  for (let s = 0; s + 1 < segments.length; s++) {
    const first = segments[s]!;
    const end = segments[s + 1]!;
    for (let i = first + 1; i < end; i++) tryAdd(i - 1, i);
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
    // The first symbol of a segment is never merged away.
    for (let i = first; i !== -1; i = next[i]!) {
      const piece = text.substr(start[i]!, len[i]!);
      const id = index.ids.get(piece);
      if (id !== undefined) {
        out.push(id);
      } else {
        for (const byte of encoder.encode(piece)) out.push(index.byteToken(byte));
      }
    }
  }
}
