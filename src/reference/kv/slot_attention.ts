/**
 * CPU twin of single-query attention over a slot cache with score
 * accumulation (`decode_attn_score`): each query head attends to the occupied
 * slots of its KV head; the probabilities are summed over the KV head's query
 * group into the row the policy's scores accumulate. The cache view holds
 * the values as stored (a `ReferenceKvLayer` of an f16 cache rounds them).
 *
 * @module
 */

import { FREE } from "./slot_table.ts";

/** The parts of a layer's cache the attention reads. */
export interface SlotCacheView {
  /** KV heads. */
  readonly nHeadKv: number;
  /** Slots per KV head. */
  readonly nSlots: number;
  /** Values per head. */
  readonly headDim: number;
  /** Original positions `[nHeadKv][nSlots]`, −1 = free. */
  readonly pos: Int32Array;
  /** Rotated keys `[nHeadKv][nSlots][headDim]`. */
  readonly keys: Float32Array;
  /** Values `[nHeadKv][nSlots][headDim]`. */
  readonly values: Float32Array;
}

/**
 * Attention of one token's queries over the occupied slots (softmax in f64,
 * scale `1/√d`), plus the per-slot probability row summed over each KV head's
 * query group (f32 adds in query-head order; 0 at free slots).
 *
 * @param q queries (nHead × headDim), rotated
 * @param cache the layer's cache
 * @param nHead query heads (a multiple of `nHeadKv`)
 * @returns `out` (nHead × headDim) and `row` (`[nHeadKv][nSlots]`)
 * @throws {RangeError} when the heads do not group evenly or a head has no occupied slot
 * @example One occupied slot gets probability 1
 * ```ts
 * import assert from "node:assert/strict";
 * import { slotAttention } from "./slot_attention.ts";
 * const cache = { nHeadKv: 1, nSlots: 2, headDim: 1, pos: new Int32Array([-1, 0]), keys: new Float32Array([0, 1]), values: new Float32Array([0, 5]) };
 * const { out, row } = slotAttention(new Float32Array([1]), cache, 1);
 * assert.deepEqual([[...out], [...row]], [[5], [0, 1]]); // slot 0 is free
 * // Two query heads over two equal keys: half each, summed over the group in the row
 * const both = { ...cache, pos: new Int32Array([0, 1]), keys: new Float32Array([0, 0]), values: new Float32Array([2, 4]) };
 * const two = slotAttention(new Float32Array([1, -1]), both, 2);
 * assert.deepEqual([[...two.out], [...two.row]], [[3, 3], [1, 1]]);
 * ```
 */
export function slotAttention(
  q: Float32Array,
  cache: SlotCacheView,
  nHead: number,
): { out: Float32Array; row: Float32Array } {
  const { nHeadKv, nSlots, headDim, pos, keys, values } = cache;
  if (nHead % nHeadKv !== 0) {
    throw new RangeError(`Cannot attend with ${nHead} query heads over ${nHeadKv} KV heads`);
  }
  const group = nHead / nHeadKv;
  const scale = 1 / Math.sqrt(headDim);
  const out = new Float32Array(nHead * headDim); // (n_head, head_dim)
  const row = new Float32Array(nHeadKv * nSlots); // (n_kv_heads, slots)
  const p = new Float64Array(nSlots); // one head's probabilities
  for (let h = 0; h < nHead; h++) {
    const g = Math.floor(h / group);
    let max = -Infinity;
    for (let s = 0; s < nSlots; s++) {
      if (pos[g * nSlots + s] === FREE) continue;
      let dot = 0;
      for (let d = 0; d < headDim; d++) {
        dot += q[h * headDim + d]! * keys[(g * nSlots + s) * headDim + d]!;
      }
      p[s] = dot * scale;
      max = Math.max(max, p[s]!);
    }
    if (max === -Infinity) throw new RangeError(`Cannot attend: KV head ${g} has no occupied slot`);
    let z = 0;
    for (let s = 0; s < nSlots; s++) {
      p[s] = pos[g * nSlots + s] === FREE ? 0 : Math.exp(p[s]! - max);
      z += p[s]!;
    }
    for (let s = 0; s < nSlots; s++) {
      if (pos[g * nSlots + s] === FREE) continue;
      const prob = p[s]! / z;
      row[g * nSlots + s] = Math.fround(row[g * nSlots + s]! + Math.fround(prob));
      for (let d = 0; d < headDim; d++) {
        out[h * headDim + d] = out[h * headDim + d]! +
          prob * values[(g * nSlots + s) * headDim + d]!;
      }
    }
  }
  return { out, row };
}
