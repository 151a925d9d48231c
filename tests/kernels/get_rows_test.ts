import assert from "node:assert/strict";
import { GgmlType, rowBytes } from "../../src/gguf/ggml_type.ts";
import type { GpuRuntime } from "../../src/gpu/runtime.ts";
import { createGetRows } from "../../src/gpu/ops/get_rows.ts";
import { createGpuWeight, destroyGpuWeight } from "../../src/gpu/weights.ts";
import { embedding } from "../../src/reference/embedding.ts";
import { gpuTestOptions } from "../_gpu.ts";
import { stepBuffer } from "./_step.ts";
import { readF32, storageOf, submitPass, testRuntime } from "./_cases.ts";
import {
  ANY_COLUMNS,
  assertCloseToTwin,
  chunkLimit,
  columnGrid,
  FLOAT_TYPES,
  randomWeight,
  typeTag,
  WEIGHT_TYPES,
} from "./_quant_cases.ts";

// Tolerance: a lookup only dequantizes, so values agree to f32 rounding of
// the scale products (the K-quant twins may round d·sc once, the GPU twice).
const MAX_NMSE = 1e-12;
const MAX_ABS_PER_SCALE = 1e-6;
const SENTINEL = -777;

interface Case {
  vocab: number;
  cols: number;
  ids: number[];
  idsOffset?: number;
  stepTokens?: number;
  maxChunkBytes?: number;
}

async function runCase(rt: GpuRuntime, type: GgmlType, c: Case, seed: number) {
  const { vocab, cols, ids } = c;
  const offset = c.idsOffset ?? 0;
  const bytes = randomWeight(type, vocab, cols, seed);
  const table = createGpuWeight(rt, bytes, { name: "token_embd", type, rows: vocab, cols }, {
    ...(c.maxChunkBytes === undefined ? {} : { maxChunkBytes: c.maxChunkBytes }),
  });
  const idBuf = storageOf(
    rt.device,
    Uint32Array.from([...new Array(offset).fill(0), ...ids]),
    "ids",
  );
  const outBuf = storageOf(rt.device, new Float32Array(ids.length * cols).fill(SENTINEL), "out");
  const step = c.stepTokens === undefined
    ? undefined
    : stepBuffer(rt.device, { pos: 0, nTokens: c.stepTokens, nKv: 0, seed: 0 });
  const op = createGetRows(rt, {
    table,
    ids: idBuf,
    idsOffset: offset,
    out: outBuf,
    maxTokens: ids.length,
    ...(step === undefined ? {} : { step }),
  });
  submitPass(rt.device, [op]);
  const got = await readF32(rt.device, outBuf, ids.length * cols);
  op.destroy();
  step?.destroy();
  destroyGpuWeight(table);
  idBuf.destroy();
  outBuf.destroy();
  return { got, bytes, chunks: table.chunks.length };
}

function assertRows(got: Float32Array, want: Float32Array, label: string) {
  assertCloseToTwin(got, want, label, MAX_NMSE, MAX_ABS_PER_SCALE, 0);
}

for (const type of WEIGHT_TYPES) {
  const tag = typeTag(type);
  const grid = columnGrid(type);
  Deno.test({
    name: `get_rows_${tag} matches the CPU twin for first, last and repeated ids`,
    ...gpuTestOptions,
    fn: async (t) => {
      const rt = await testRuntime();
      for (const [i, cols] of [grid[0]!, 768].entries()) {
        const ids = [0, 36, 5, 5, 17];
        const name = `get_rows_${tag}(vocab=37, cols=${cols}, T=${ids.length})`;
        await t.step(name, async () => {
          const { got, bytes } = await runCase(rt, type, { vocab: 37, cols, ids }, 50 * type + i);
          assertRows(got, embedding(type, bytes, cols, ids), name);
        });
      }
    },
  });
}

for (const type of FLOAT_TYPES) {
  const tag = typeTag(type);
  Deno.test({
    name: `get_rows_${tag} matches the CPU twin for any row length`,
    ...gpuTestOptions,
    fn: async (t) => {
      const rt = await testRuntime();
      // Odd and even ids: with odd F16/BF16 rows, odd ids start at 2-byte offsets.
      const ids = [0, 36, 5, 5, 17, 8];
      for (const [i, cols] of ANY_COLUMNS.entries()) {
        const name = `get_rows_${tag}(vocab=37, cols=${cols}, T=${ids.length})`;
        await t.step(name, async () => {
          const { got, bytes } = await runCase(rt, type, { vocab: 37, cols, ids }, 30 * type + i);
          assertRows(got, embedding(type, bytes, cols, ids), name);
        });
      }
      const name = `get_rows_${tag}(vocab=37, cols=173, T=${ids.length}, 3-row chunks)`;
      await t.step(name, async () => {
        const c = { vocab: 37, cols: 173, ids, maxChunkBytes: chunkLimit(3, rowBytes(type, 173)) };
        const { got, bytes, chunks } = await runCase(rt, type, c, 30 * type + 9);
        assert.equal(chunks, 13);
        assertRows(got, embedding(type, bytes, 173, ids), name);
      });
    },
  });
}

Deno.test({
  name: "get_rows_q6_k on a table split into 5-row chunks reads every chunk",
  ...gpuTestOptions,
  fn: async () => {
    const rt = await testRuntime();
    const ids = [36, 0, 4, 5, 30, 9, 10];
    const c = {
      vocab: 37,
      cols: 256,
      ids,
      maxChunkBytes: chunkLimit(5, rowBytes(GgmlType.Q6_K, 256)),
    };
    const { got, bytes, chunks } = await runCase(rt, GgmlType.Q6_K, c, 3);
    assert.equal(chunks, 8);
    assertRows(got, embedding(GgmlType.Q6_K, bytes, 256, ids), "get_rows_q6_k chunked");
  },
});

Deno.test({
  name: "get_rows_q4_0 honours idsOffset and the step's n_tokens, and skips ids past the table",
  ...gpuTestOptions,
  fn: async () => {
    const rt = await testRuntime();
    const ids = [3, 99, 7, 1];
    const c = { vocab: 11, cols: 64, ids, idsOffset: 2, stepTokens: 3 };
    const { got, bytes } = await runCase(rt, GgmlType.Q4_0, c, 5);
    const want = embedding(GgmlType.Q4_0, bytes, 64, [3, 7]);
    assertRows(got.subarray(0, 64), want.subarray(0, 64), "token 0");
    assertRows(got.subarray(128, 192), want.subarray(64, 128), "token 2");
    assert.ok(
      got.subarray(64, 128).every((v) => v === SENTINEL),
      "id 99 past the table was written",
    );
    assert.ok(got.subarray(192).every((v) => v === SENTINEL), "token 3 past n_tokens was written");
  },
});

Deno.test({
  name: "dbg_get_rows_bf16(vocab=2, cols=8) widens bf16 bits exactly",
  ...gpuTestOptions,
  fn: async () => {
    const rt = await testRuntime();
    // bf16 0x3F80 = 1, 0xC000 = −2, 0x4040 = 3; row 1 is 1, −2, 3, 0, 1, −2, 3, 0.
    const halves = new Uint16Array(16);
    halves.set([0x3f80, 0xc000, 0x4040, 0, 0x3f80, 0xc000, 0x4040, 0], 8);
    const bytes = new Uint8Array(halves.buffer);
    const table = createGpuWeight(rt, bytes, {
      name: "dbg",
      type: GgmlType.BF16,
      rows: 2,
      cols: 8,
    });
    const ids = storageOf(rt.device, Uint32Array.of(1), "ids");
    const out = storageOf(rt.device, new Float32Array(8), "out");
    const op = createGetRows(rt, { table, ids, out, maxTokens: 1 });
    submitPass(rt.device, [op]);
    const expected = [1, -2, 3, 0, 1, -2, 3, 0];
    assert.deepEqual([...(await readF32(rt.device, out, 8))], expected);
    assert.deepEqual([...embedding(GgmlType.BF16, bytes, 8, [1])], expected);
    op.destroy();
    destroyGpuWeight(table);
    ids.destroy();
    out.destroy();
  },
});
