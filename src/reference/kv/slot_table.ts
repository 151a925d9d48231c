/**
 * The slot table of one layer (docs/style.md §2, after llama.cpp `llama_kv_cells`):
 * per (KV head, slot) the original position (i32, −1 = free) and the
 * accumulated attention score (f32). It asserts its invariants on every call:
 * slots in range, a slot is written only when free and freed only when
 * occupied, positions unique within a head. The K/V storage lives elsewhere;
 * this table is the part the policies decide from.
 *
 * @module
 */

/** Position value of a free slot. */
export const FREE = -1;

/** Original position and accumulated score per (KV head, slot). */
export class SlotTable {
  /** KV heads. */
  readonly nHeadKv: number;
  /** Slots per head. */
  readonly nSlots: number;
  /** Original positions `[nHeadKv][nSlots]`, −1 = free. Read-only outside this class. */
  readonly pos: Int32Array;
  /** Accumulated scores `[nHeadKv][nSlots]`. Read-only outside this class. */
  readonly score: Float32Array;

  /**
   * Creates an empty table.
   *
   * @param nHeadKv KV heads (≥ 1)
   * @param nSlots slots per head (≥ 1)
   * @throws {RangeError} when a size is not a positive integer
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { SlotTable } from "./slot_table.ts";
   * const t = new SlotTable(2, 3);
   * t.occupy(1, t.freeSlot(1), 7); // head 1's lowest free slot, 0, takes position 7
   * assert.deepEqual([t.occupancy(0), t.occupancy(1), t.position(1, 0)], [0, 1, 7]);
   * assert.equal(t.freeSlot(1), 1);
   * assert.throws(() => t.occupy(1, 0, 8)); // slot 0 is taken
   * assert.throws(() => new SlotTable(0, 3), RangeError);
   * ```
   */
  constructor(nHeadKv: number, nSlots: number) {
    if (
      !Number.isSafeInteger(nHeadKv) || nHeadKv < 1 || !Number.isSafeInteger(nSlots) || nSlots < 1
    ) {
      throw new RangeError(`Cannot create a slot table of ${nHeadKv} heads × ${nSlots} slots`);
    }
    this.nHeadKv = nHeadKv;
    this.nSlots = nSlots;
    this.pos = new Int32Array(nHeadKv * nSlots).fill(FREE);
    this.score = new Float32Array(nHeadKv * nSlots);
  }

  /**
   * @param head KV head
   * @returns occupied slots of the head
   */
  occupancy(head: number): number {
    this.#checkHead(head);
    let n = 0;
    for (let s = 0; s < this.nSlots; s++) if (this.pos[head * this.nSlots + s] !== FREE) n++;
    return n;
  }

  /**
   * @param head KV head
   * @returns the lowest free slot of the head (where its next token goes), or −1 when full
   */
  freeSlot(head: number): number {
    this.#checkHead(head);
    for (let s = 0; s < this.nSlots; s++) if (this.pos[head * this.nSlots + s] === FREE) return s;
    return -1;
  }

  /**
   * @param head KV head
   * @param slot slot index
   * @returns the original position in the slot, −1 when free
   */
  position(head: number, slot: number): number {
    return this.pos[this.#index(head, slot)]!;
  }

  /**
   * @param head KV head
   * @param slot slot index
   * @returns the slot's accumulated score
   */
  scoreOf(head: number, slot: number): number {
    return this.score[this.#index(head, slot)]!;
  }

  /**
   * Puts a token into a free slot.
   *
   * @param head KV head
   * @param slot a free slot
   * @param position the token's original position (not already in the head)
   * @param score its starting score (f32)
   * @throws {RangeError} when the slot is taken or the position is already cached in the head
   */
  occupy(head: number, slot: number, position: number, score = 0): void {
    const i = this.#index(head, slot);
    if (this.pos[i] !== FREE) {
      throw new RangeError(
        `Cannot write slot ${slot} of head ${head}: it holds position ${this.pos[i]}`,
      );
    }
    if (!Number.isSafeInteger(position) || position < 0 || position > 0x7fffffff) {
      throw new RangeError(`Cannot write position ${position}: expected a non-negative i32`);
    }
    if (this.find(head, position) !== -1) {
      throw new RangeError(
        `Cannot write position ${position} to head ${head}: it is already cached`,
      );
    }
    this.pos[i] = position;
    this.score[i] = score;
  }

  /**
   * Frees an occupied slot (its score becomes 0).
   *
   * @param head KV head
   * @param slot an occupied slot
   * @throws {RangeError} when the slot is already free
   */
  release(head: number, slot: number): void {
    const i = this.#index(head, slot);
    if (this.pos[i] === FREE) {
      throw new RangeError(`Cannot free slot ${slot} of head ${head}: it is free`);
    }
    this.pos[i] = FREE;
    this.score[i] = 0;
  }

  /**
   * Adds attention to an occupied slot's score, in f32: `s ← fround(s + x)`.
   *
   * @param head KV head
   * @param slot an occupied slot
   * @param x attention to add
   * @throws {RangeError} when the slot is free
   */
  addScore(head: number, slot: number, x: number): void {
    const i = this.#index(head, slot);
    if (this.pos[i] === FREE) {
      throw new RangeError(`Cannot score slot ${slot} of head ${head}: it is free`);
    }
    this.score[i] = Math.fround(this.score[i]! + x);
  }

  /**
   * @param head KV head
   * @param position an original position
   * @returns the slot holding it, or −1
   */
  find(head: number, position: number): number {
    this.#checkHead(head);
    for (let s = 0; s < this.nSlots; s++) {
      if (this.pos[head * this.nSlots + s] === position) return s;
    }
    return -1;
  }

  /** Frees every slot. */
  clear(): void {
    this.pos.fill(FREE);
    this.score.fill(0);
  }

  #checkHead(head: number): void {
    if (!Number.isInteger(head) || head < 0 || head >= this.nHeadKv) {
      throw new RangeError(`Cannot use KV head ${head}: expected 0 to ${this.nHeadKv - 1}`);
    }
  }

  #index(head: number, slot: number): number {
    this.#checkHead(head);
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.nSlots) {
      throw new RangeError(`Cannot use slot ${slot}: expected 0 to ${this.nSlots - 1}`);
    }
    return head * this.nSlots + slot;
  }
}
