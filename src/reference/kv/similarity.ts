/**
 * Key similarity for d2o's compensation step (docs/method.md §5.1): the cosine
 * of two cached (rotated) keys and the nearest eligible slot of a head, in f32
 * with a fixed summation order a WGSL kernel can reproduce.
 *
 * @module
 */

/**
 * Cosine similarity of two vectors in f32: `dot`, `‖a‖²` and `‖b‖²` summed
 * element by element in index order (each product and partial sum rounded to
 * f32), then `dot / (sqrt(‖a‖²)·sqrt(‖b‖²))`; 0 when either norm is 0.
 *
 * @param a first array
 * @param aOffset start of the first vector in `a`
 * @param b second array
 * @param bOffset start of the second vector in `b`
 * @param n vector length
 * @returns the cosine in [−1, 1] (f32-rounded)
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cosineF32 } from "./similarity.ts";
 * // 45°: 3 / (1 · √18) = 1/√2, to f32 precision
 * assert.ok(Math.abs(cosineF32(new Float32Array([1, 0]), 0, new Float32Array([3, 3]), 0, 2) - Math.SQRT1_2) < 1e-7);
 * assert.equal(cosineF32(new Float32Array([0, 0, 1, 2]), 0, new Float32Array([1, 2]), 0, 2), 0); // a zero key
 * assert.equal(cosineF32(new Float32Array([0, 0, 1, 2]), 2, new Float32Array([2, 4]), 0, 2), 1); // from offset 2
 * ```
 */
export function cosineF32(
  a: Float32Array,
  aOffset: number,
  b: Float32Array,
  bOffset: number,
  n: number,
): number {
  const f = Math.fround;
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let d = 0; d < n; d++) {
    const x = a[aOffset + d]!;
    const y = b[bOffset + d]!;
    dot = f(dot + f(x * y));
    na = f(na + f(x * x));
    nb = f(nb + f(y * y));
  }
  if (na === 0 || nb === 0) return 0;
  return f(dot / f(f(Math.sqrt(na)) * f(Math.sqrt(nb))));
}

/** The most similar slot and its similarity. */
export interface Nearest {
  /** Slot index, −1 when no slot was eligible. */
  readonly slot: number;
  /** Its cosine similarity (−Infinity when no slot was eligible). */
  readonly similarity: number;
}

/** The parts of a layer the nearest-slot search reads. */
export interface KeyTable {
  /** Slots per head. */
  readonly nSlots: number;
  /** Values per head. */
  readonly headDim: number;
  /** Original positions `[nHeadKv][nSlots]`. */
  readonly pos: Int32Array;
  /** Rotated keys `[nHeadKv][nSlots][headDim]`. */
  readonly keys: Float32Array;
}

/**
 * Finds, within one head, the eligible slot whose key is most similar to the
 * key in slot `from`. Ties go to the older position, then the lower slot.
 *
 * @param table positions and keys of the layer
 * @param head KV head
 * @param from slot of the query key
 * @param eligible which slots may be the answer
 * @returns the best slot and its similarity
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nearestSlot } from "./similarity.ts";
 * const table = { nSlots: 3, headDim: 2, pos: new Int32Array([0, 1, 2]), keys: new Float32Array([1, 0, 0, 1, 1, 0.1]) };
 * // Slot 2's key (1, 0.1) is nearly slot 0's (1, 0): cosine 1/√1.01
 * const best = nearestSlot(table, 0, 2, (s) => s !== 2);
 * assert.equal(best.slot, 0);
 * assert.ok(Math.abs(best.similarity - 1 / Math.sqrt(1.01)) < 1e-6);
 * assert.deepEqual(nearestSlot(table, 0, 2, () => false), { slot: -1, similarity: -Infinity });
 * ```
 */
export function nearestSlot(
  table: KeyTable,
  head: number,
  from: number,
  eligible: (slot: number) => boolean,
): Nearest {
  const { nSlots, headDim, pos, keys } = table;
  const base = head * nSlots;
  let best = -1;
  let bestSim = -Infinity;
  for (let c = 0; c < nSlots; c++) {
    if (!eligible(c)) continue;
    const sim = cosineF32(keys, (base + from) * headDim, keys, (base + c) * headDim, headDim);
    if (best === -1 || sim > bestSim || (sim === bestSim && pos[base + c]! < pos[base + best]!)) {
      best = c;
      bestSim = sim;
    }
  }
  return { slot: best, similarity: bestSim };
}
