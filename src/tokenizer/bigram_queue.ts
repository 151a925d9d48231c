/**
 * A binary max-heap of candidate merges (bigrams) over parallel typed arrays,
 * shared by the SentencePiece-style and the BPE merge loops. Ordering is
 * llama.cpp's: highest priority first, ties to the leftmost pair.
 *
 * @module
 */

/** One candidate merge of the symbol at `left` with the one at `right`. */
export interface Bigram {
  /** Larger merges first: the token score (SPM) or the negated merge rank (BPE). */
  priority: number;
  /** Index of the left symbol. */
  left: number;
  /** Index of the right symbol. */
  right: number;
  /** Length of the merged text when queued; a different length means the entry is stale. */
  size: number;
}

/**
 * Priority queue of bigrams: {@linkcode BigramQueue.pop} returns the one
 * with the highest priority, and among equals the smallest `left`.
 * Push and pop are O(log n).
 *
 * @example Highest priority first, ties to the left
 * ```ts
 * import assert from "node:assert/strict";
 * import { BigramQueue } from "./bigram_queue.ts";
 * const queue = new BigramQueue();
 * queue.push(-1, 5, 6, 2);
 * queue.push(0, 3, 4, 2);
 * queue.push(0, 1, 2, 2);
 * const out = { priority: 0, left: 0, right: 0, size: 0 };
 * queue.pop(out);
 * assert.ok(out.left === 1);
 * ```
 */
export class BigramQueue {
  #priority = new Float64Array(64);
  #left = new Int32Array(64);
  #right = new Int32Array(64);
  #size = new Int32Array(64);
  #length = 0;

  /** Number of queued bigrams. */
  get length(): number {
    return this.#length;
  }

  /** Removes every entry, keeping the storage. */
  clear(): void {
    this.#length = 0;
  }

  /**
   * Queues a bigram.
   *
   * @param priority larger pops first
   * @param left index of the left symbol
   * @param right index of the right symbol
   * @param size length of the merged text
   */
  push(priority: number, left: number, right: number, size: number): void {
    if (this.#length === this.#priority.length) this.#grow();
    let i = this.#length++;
    // Sift up: move parents down until the new entry's place is found.
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!precedes(priority, left, this.#priority[parent]!, this.#left[parent]!)) break;
      this.#copy(parent, i);
      i = parent;
    }
    this.#priority[i] = priority;
    this.#left[i] = left;
    this.#right[i] = right;
    this.#size[i] = size;
  }

  /**
   * Removes the first bigram into `out`.
   *
   * @param out receives the popped entry
   * @returns false (and leaves `out` alone) when the queue is empty
   */
  pop(out: Bigram): boolean {
    if (this.#length === 0) return false;
    out.priority = this.#priority[0]!;
    out.left = this.#left[0]!;
    out.right = this.#right[0]!;
    out.size = this.#size[0]!;
    const last = --this.#length;
    if (last === 0) return true;
    const priority = this.#priority[last]!;
    const left = this.#left[last]!;
    const right = this.#right[last]!;
    const size = this.#size[last]!;
    // Sift down the former last entry from the root.
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= last) break;
      if (
        child + 1 < last &&
        precedes(
          this.#priority[child + 1]!,
          this.#left[child + 1]!,
          this.#priority[child]!,
          this.#left[child]!,
        )
      ) child++;
      if (!precedes(this.#priority[child]!, this.#left[child]!, priority, left)) break;
      this.#copy(child, i);
      i = child;
    }
    this.#priority[i] = priority;
    this.#left[i] = left;
    this.#right[i] = right;
    this.#size[i] = size;
    return true;
  }

  #copy(from: number, to: number): void {
    this.#priority[to] = this.#priority[from]!;
    this.#left[to] = this.#left[from]!;
    this.#right[to] = this.#right[from]!;
    this.#size[to] = this.#size[from]!;
  }

  #grow(): void {
    const n = this.#priority.length * 2;
    const priority = new Float64Array(n);
    priority.set(this.#priority);
    this.#priority = priority;
    const left = new Int32Array(n);
    left.set(this.#left);
    this.#left = left;
    const right = new Int32Array(n);
    right.set(this.#right);
    this.#right = right;
    const size = new Int32Array(n);
    size.set(this.#size);
    this.#size = size;
  }
}

/** Whether entry (p1, l1) pops before entry (p2, l2). */
function precedes(p1: number, l1: number, p2: number, l2: number): boolean {
  return p1 > p2 || (p1 === p2 && l1 < l2);
}
