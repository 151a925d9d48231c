import assert from "node:assert/strict";
import { createStorage } from "../../src/gpu/buffers.ts";
import { createHeadVariance } from "../../src/gpu/ops/kv_head_variance.ts";
import { columnVariance } from "../../src/reference/kv/column_sums.ts";
import { makeRng } from "../../src/reference/prng.ts";
import { gpuTestOptions } from "../_gpu.ts";
import { storageOf, submitPass, testRuntime } from "./_cases.ts";
import { readAll } from "./_kv_harness.ts";

/** Relative error allowed against the f64 twin. */
const MAX_REL = 1e-5;

async function check(nHead: number, tokens: number, stride: number, offset: number, seed: number) {
  const rt = await testRuntime();
  const rng = makeRng(seed);
  // Column-sum-like data: positive, decaying with the key index, plus noise.
  const colsum = Float32Array.from(
    { length: nHead * stride },
    (_, i) => (8 / (1 + (i % stride))) + rng() * (1 + Math.floor(i / stride)),
  );
  const packed = new Float32Array(nHead * tokens);
  for (let h = 0; h < nHead; h++) {
    packed.set(colsum.subarray(h * stride, h * stride + tokens), h * tokens);
  }
  const want = columnVariance(packed, tokens, nHead);
  const input = storageOf(rt.device, colsum, "test.colsum");
  const out = createStorage(rt.device, (offset + nHead) * 4, "test.out");
  submitPass(rt.device, [
    createHeadVariance(rt, { colsum: input, nHead, tokens, stride, out, offset }),
  ]);
  const [bytes] = await readAll(rt.device, [[out, (offset + nHead) * 4]]);
  const got = new Float32Array(bytes!, offset * 4, nHead);
  for (let h = 0; h < nHead; h++) {
    const err = Math.abs(got[h]! - want[h]!);
    assert.ok(err <= MAX_REL * Math.abs(want[h]!), `head ${h}: ${got[h]} vs ${want[h]}`);
  }
  input.destroy();
  out.destroy();
}

const cases = [
  { nHead: 1, tokens: 1, stride: 1, offset: 0 },
  { nHead: 2, tokens: 2, stride: 5, offset: 3 },
  { nHead: 6, tokens: 255, stride: 300, offset: 6 },
  { nHead: 8, tokens: 4097, stride: 4100, offset: 0 },
];

cases.forEach((c, i) => {
  Deno.test({
    name:
      `kv_head_variance(nHead=${c.nHead}, T=${c.tokens}, stride=${c.stride}, offset=${c.offset}) ` +
      "matches columnVariance",
    ...gpuTestOptions,
    fn: () => check(c.nHead, c.tokens, c.stride, c.offset, 90 + i),
  });
});

Deno.test({
  name: "dbg_kv_head_variance(nHead=1, T=4): [1, 2, 3, 6] has variance 14/3",
  ...gpuTestOptions,
  async fn() {
    const rt = await testRuntime();
    const colsum = storageOf(rt.device, new Float32Array([1, 2, 3, 6]), "colsum");
    const out = createStorage(rt.device, 4, "out");
    submitPass(rt.device, [createHeadVariance(rt, { colsum, nHead: 1, tokens: 4, out })]);
    const [bytes] = await readAll(rt.device, [[out, 4]]);
    assert.equal(new Float32Array(bytes!)[0], Math.fround(14 / 3));
    colsum.destroy();
    out.destroy();
  },
});
