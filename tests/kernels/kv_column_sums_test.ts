import assert from "node:assert/strict";
import { createStorage } from "../../src/gpu/buffers.ts";
import { createColumnSums } from "../../src/gpu/ops/kv_column_sums.ts";
import { KV_TYPES, type KvType, kvTypes, roundKv } from "../../src/gpu/ops/kv_elem.ts";
import { writeStep } from "../../src/gpu/step.ts";
import { attention } from "../../src/reference/attention.ts";
import { causalColumnSums } from "../../src/reference/kv/column_sums.ts";
import { makeRng, randn } from "../../src/reference/prng.ts";
import { gpuTestOptions } from "../_gpu.ts";
import { storageOf, testRuntime } from "./_cases.ts";
import { kvStorageOf, readAll } from "./_kv_harness.ts";
import { createStepBuffer } from "../../src/gpu/step.ts";

interface Case {
  tokens: number;
  chunk: number;
  nHead: number;
  nHeadKv: number;
  headDim: number;
  /** First query position counted (an observation window); default 0. */
  fromQuery?: number;
}

/** NMSE threshold of the f32 GPU sums against the f64 twin on the stored keys (f16: rounded). */
const MAX_NMSE = 1e-10;

function nmse(got: Float32Array, want: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < want.length; i++) {
    num += (got[i]! - want[i]!) ** 2;
    den += want[i]! ** 2;
  }
  return den === 0 ? num : num / den;
}

/** Runs the prompt in chunks through the GPU column sums and compares with causalColumnSums. */
async function check(c: Case, kvType: KvType, seed: number, broadcast: boolean) {
  const rt = await testRuntime();
  const { tokens, chunk, nHead, nHeadKv, headDim } = c;
  const nSlots = tokens + 3;
  const rng = makeRng(seed);
  const q = Float32Array.from({ length: tokens * nHead * headDim }, () => 1.5 * randn(rng));
  // The keys as the staging cache stores them; the twin reads the same values.
  const kCache = roundKv(
    kvType,
    Float32Array.from({ length: nHeadKv * nSlots * headDim }, () => randn(rng)),
  );
  const shape = { nHead, nHeadKv, headDim, nSlots };
  const { lse } = attention(q, kCache, new Float32Array(kCache.length), tokens, 0, shape);
  const keys = new Float32Array(nHeadKv * tokens * headDim); // (kv_heads, T, head_dim)
  for (let h = 0; h < nHeadKv; h++) {
    keys.set(
      kCache.subarray(h * nSlots * headDim, (h * nSlots + tokens) * headDim),
      h * tokens * headDim,
    );
  }
  const want = causalColumnSums(q, keys, tokens, shape, c.fromQuery ?? 0);
  const qBuf = createStorage(rt.device, chunk * nHead * headDim * 4, "test.q");
  const lseBuf = createStorage(rt.device, chunk * nHead * 4, "test.lse");
  const kBuf = kvStorageOf(rt.device, kvType, kCache, "test.k");
  const out = createStorage(rt.device, nHead * nSlots * 4, "test.out");
  const step = createStepBuffer(rt.device, "test.step");
  const op = createColumnSums(rt, {
    q: qBuf,
    kCache: kBuf,
    kvTypes: kvTypes(kvType),
    lse: lseBuf,
    out,
    nHead,
    nHeadKv,
    headDim,
    nSlots,
    maxTokens: chunk,
    step,
    fromQuery: c.fromQuery ?? 0,
    broadcast,
  });
  for (let pos = 0; pos < tokens; pos += chunk) {
    const n = Math.min(chunk, tokens - pos);
    rt.device.queue.writeBuffer(
      qBuf,
      0,
      q.slice(pos * nHead * headDim, (pos + n) * nHead * headDim),
    );
    rt.device.queue.writeBuffer(lseBuf, 0, lse.slice(pos * nHead, (pos + n) * nHead));
    writeStep(rt.device, step, { pos, nTokens: n, nKv: pos + n, seed: 0 });
    const encoder = rt.device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    op.encode(pass);
    pass.end();
    rt.device.queue.submit([encoder.finish()]);
  }
  const [bytes] = await readAll(rt.device, [[out, nHead * nSlots * 4]]);
  const all = new Float32Array(bytes!);
  const got = new Float32Array(nHead * tokens);
  for (let h = 0; h < nHead; h++) {
    got.set(all.subarray(h * nSlots, h * nSlots + tokens), h * tokens);
    for (let j = tokens; j < nSlots; j++) {
      assert.equal(all[h * nSlots + j], 0, "keys past T stay 0");
    }
  }
  const e = nmse(got, want);
  assert.ok(e <= MAX_NMSE, `NMSE ${e}`);
  for (const b of [qBuf, lseBuf, kBuf, out, step]) b.destroy();
}

const cases: Case[] = [
  { tokens: 1, chunk: 1, nHead: 1, nHeadKv: 1, headDim: 4 },
  { tokens: 7, chunk: 3, nHead: 2, nHeadKv: 1, headDim: 8 },
  { tokens: 130, chunk: 64, nHead: 4, nHeadKv: 2, headDim: 64 },
  { tokens: 301, chunk: 301, nHead: 8, nHeadKv: 4, headDim: 8 },
  // 1000 rows of head size 128 split into two sub-chunks per dispatch (loop budget).
  { tokens: 1000, chunk: 1000, nHead: 1, nHeadKv: 1, headDim: 128 },
  // An observation window starting inside the second chunk.
  { tokens: 200, chunk: 64, nHead: 14, nHeadKv: 2, headDim: 64, fromQuery: 90 },
];

// Both kernels on every adapter: the plain one (GPUs) and the broadcast one (CPU adapters).
for (const broadcast of [false, true]) {
  for (const kvType of KV_TYPES) {
    cases.forEach((c, i) => {
      Deno.test({
        name: `kv_column_sums${broadcast ? "_broadcast" : ""}(${kvType}, T=${c.tokens}, ` +
          `chunk=${c.chunk}, nHead=${c.nHead}, nHeadKv=${c.nHeadKv}, headDim=${c.headDim}` +
          `${c.fromQuery ? `, fromQuery=${c.fromQuery}` : ""}) matches causalColumnSums`,
        ...gpuTestOptions,
        fn: () => check(c, kvType, 70 + i, broadcast),
      });
    });
  }
}

for (const [kvType, broadcast] of KV_TYPES.flatMap((t) => [[t, false], [t, true]] as const)) {
  Deno.test({
    name: `dbg_kv_column_sums${broadcast ? "_broadcast" : ""}(${kvType}, T=2, 1 head, ` +
      `headDim=4): equal scores add [1.5, 0.5] to [0.25, 0]`,
    ...gpuTestOptions,
    async fn() {
      const rt = await testRuntime();
      const q = storageOf(rt.device, new Float32Array(8), "q");
      const k = kvStorageOf(rt.device, kvType, new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]), "k");
      // q = 0: row 0 gives key 0 probability 1 (lse 0), row 1 gives each key 1/2 (lse ln 2).
      const lse = storageOf(rt.device, new Float32Array([0, Math.log(2)]), "lse");
      const out = storageOf(rt.device, new Float32Array([0.25, 0]), "out");
      const step = createStepBuffer(rt.device, "step");
      writeStep(rt.device, step, { pos: 0, nTokens: 2, nKv: 2, seed: 0 });
      const op = createColumnSums(rt, {
        q,
        kCache: k,
        kvTypes: kvTypes(kvType),
        lse,
        out,
        nHead: 1,
        nHeadKv: 1,
        headDim: 4,
        nSlots: 2,
        maxTokens: 2,
        step,
        broadcast,
      });
      const encoder = rt.device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      op.encode(pass);
      pass.end();
      rt.device.queue.submit([encoder.finish()]);
      const [bytes] = await readAll(rt.device, [[out, 8]]);
      assert.deepEqual([...new Float32Array(bytes!)], [1.75, 0.5]);
      for (const b of [q, k, lse, out, step]) b.destroy();
    },
  });
}
