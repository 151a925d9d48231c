/**
 * Selection per query head (`--select-per query-head`, docs/method.md §9 Q9):
 * the reference code applies `repeat_kv` before caching, so each query head
 * has its own copy of its KV head's keys and values and its own selection.
 * Repeating the rows of the K and V projections (and their biases) head by
 * head gives exactly those copies — `k_c = W_k[⌊c/g⌋]·x`, bit for bit the same
 * values — so the forward pass, the caches and every kernel run unchanged on a
 * model with `n_head` KV heads, and the cache costs `g = n_head / n_head_kv`
 * times the memory, as in the reference code.
 *
 * @module
 */

import type { ModelHParams } from "./hparams.ts";
import { BLOCK_TENSORS } from "./tensor_names.ts";

const KV_SUFFIXES = [
  BLOCK_TENSORS.attnK,
  BLOCK_TENSORS.attnV,
  BLOCK_TENSORS.attnKBias,
  BLOCK_TENSORS.attnVBias,
].map((s) => `.${s}`);

/**
 * The query-head group size `g` a selection mode gives a model: 1 per KV head.
 *
 * @param hp the model's hyper-parameters
 * @param selectPer `kv-head` or `query-head`
 * @returns `n_head / n_head_kv` for `query-head`, else 1
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kvRepeat } from "./repeat_kv.ts";
 * const hp = { nHead: 8, nHeadKv: 4 };
 * assert.equal(kvRepeat(hp, "query-head"), 2); // 8 / 4 query heads share each KV head
 * assert.equal(kvRepeat(hp, "kv-head"), 1);
 * ```
 */
export function kvRepeat(hp: Pick<ModelHParams, "nHead" | "nHeadKv">, selectPer: string): number {
  return selectPer === "query-head" ? hp.nHead / hp.nHeadKv : 1;
}

/**
 * The hyper-parameters the forward pass and the cache run with when the KV
 * heads are repeated `group` times.
 *
 * @param hp the model's hyper-parameters
 * @param group repeat factor (1: unchanged)
 * @returns `hp` with `nHeadKv · group` KV heads
 */
export function repeatKvHParams(hp: ModelHParams, group: number): ModelHParams {
  return group === 1 ? hp : { ...hp, nHeadKv: hp.nHeadKv * group };
}

/**
 * Whether a tensor is a K or V projection or bias, whose rows are repeated.
 *
 * @param name a GGUF tensor name
 * @returns true for `blk.N.attn_k.weight`, `attn_v.weight` and their biases
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isKvProjection } from "./repeat_kv.ts";
 * assert.ok(isKvProjection("blk.3.attn_v.weight"));
 * assert.ok(isKvProjection("blk.3.attn_k.bias"));
 * assert.ok(!isKvProjection("blk.3.attn_q.weight"));
 * ```
 */
export function isKvProjection(name: string): boolean {
  return KV_SUFFIXES.some((s) => name.endsWith(s));
}

/**
 * Repeats each head's block of rows `group` times, in place order: head 0's
 * rows `group` times, then head 1's, ... (cache head `c` reads KV head `⌊c/g⌋`,
 * the query-head grouping of the attention).
 *
 * @param bytes the rows, `heads · rowsPerHead` rows of `rowBytes` bytes
 * @param rowBytes bytes per row (4 for an f32 vector's elements)
 * @param rowsPerHead rows per head (`head_dim`)
 * @param group repeat factor
 * @returns the repeated rows
 * @throws {RangeError} when the bytes are not whole heads
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { repeatHeadRows } from "./repeat_kv.ts";
 * // two heads of two 1-byte rows, each head repeated twice
 * const rows = repeatHeadRows(new Uint8Array([1, 2, 3, 4]), 1, 2, 2);
 * assert.deepEqual([...rows], [1, 2, 1, 2, 3, 4, 3, 4]);
 * assert.throws(() => repeatHeadRows(new Uint8Array(3), 1, 2, 2), /not whole heads of 2/);
 * ```
 */
export function repeatHeadRows(
  bytes: Uint8Array,
  rowBytes: number,
  rowsPerHead: number,
  group: number,
): Uint8Array {
  const headBytes = rowBytes * rowsPerHead;
  if (headBytes === 0 || bytes.length % headBytes !== 0) {
    throw new RangeError(
      `Cannot repeat KV heads: ${bytes.length} bytes are not whole heads of ${headBytes}`,
    );
  }
  const heads = bytes.length / headBytes;
  const out = new Uint8Array(bytes.length * group);
  for (let h = 0; h < heads; h++) {
    const head = bytes.subarray(h * headBytes, (h + 1) * headBytes);
    for (let r = 0; r < group; r++) out.set(head, (h * group + r) * headBytes);
  }
  return out;
}
