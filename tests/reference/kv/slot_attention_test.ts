import assert from "node:assert/strict";
import { attention } from "../../../src/reference/attention.ts";
import { attentionScores } from "../../../src/reference/attention_scores.ts";
import { slotAttention } from "../../../src/reference/kv/slot_attention.ts";
import { makeRng, randn } from "../../../src/reference/prng.ts";

Deno.test("slotAttention() over shuffled slots with free gaps equals position-ordered attention", () => {
  const nHead = 4;
  const nHeadKv = 2;
  const headDim = 6;
  const n = 9; // cached tokens
  const nSlots = 13;
  const rng = makeRng(21);
  const rand = (len: number) => Float32Array.from({ length: len }, () => randn(rng));
  const q = rand(nHead * headDim);
  const k = rand(nHeadKv * n * headDim); // (kv_heads, n, head_dim), slot = position
  const v = rand(nHeadKv * n * headDim);
  const shape = { nHead, nHeadKv, headDim, nSlots: n };
  const ref = attention(q, k, v, 1, n - 1, shape);
  const refRow = attentionScores(q, k, ref.lse, 1, n - 1, shape);
  // Scatter position j of head h into slot (5·j + h) mod 13; other slots free.
  const pos = new Int32Array(nHeadKv * nSlots).fill(-1);
  const keys = new Float32Array(nHeadKv * nSlots * headDim).fill(99);
  const values = new Float32Array(nHeadKv * nSlots * headDim).fill(99);
  const slotOf = (h: number, j: number) => (5 * j + h) % nSlots;
  for (let h = 0; h < nHeadKv; h++) {
    for (let j = 0; j < n; j++) {
      const s = slotOf(h, j);
      pos[h * nSlots + s] = j;
      const src = (h * n + j) * headDim;
      keys.set(k.subarray(src, src + headDim), (h * nSlots + s) * headDim);
      values.set(v.subarray(src, src + headDim), (h * nSlots + s) * headDim);
    }
  }
  const got = slotAttention(q, { nHeadKv, nSlots, headDim, pos, keys, values }, nHead);
  got.out.forEach((x, i) => assert.ok(Math.abs(x - ref.out[i]!) < 1e-5, `out ${i}`));
  for (let h = 0; h < nHeadKv; h++) {
    for (let s = 0; s < nSlots; s++) {
      const j = pos[h * nSlots + s]!;
      const want = j < 0 ? 0 : refRow[h * n + j]!;
      assert.ok(Math.abs(got.row[h * nSlots + s]! - want) < 1e-6, `row head ${h} slot ${s}`);
    }
  }
});

Deno.test("slotAttention() rejects a KV head without occupied slots", () => {
  const cache = {
    nHeadKv: 1,
    nSlots: 2,
    headDim: 1,
    pos: new Int32Array([-1, -1]),
    keys: new Float32Array(2),
    values: new Float32Array(2),
  };
  assert.throws(
    () => slotAttention(new Float32Array([1]), cache, 1),
    /KV head 0 has no occupied slot/,
  );
});
