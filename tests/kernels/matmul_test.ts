import assert from "node:assert/strict";
import { GgmlType, rowBytes } from "../../src/gguf/ggml_type.ts";
import type { GpuRuntime } from "../../src/gpu/runtime.ts";
import { createMatmul, type MatmulTileName } from "../../src/gpu/ops/matmul.ts";
import { createGpuWeight, destroyGpuWeight } from "../../src/gpu/weights.ts";
import { matmul } from "../../src/reference/matmul.ts";
import { gpuTestOptions } from "../_gpu.ts";
import { stepBuffer } from "./_step.ts";
import { randomValues, readF32, storageOf, submitPass, testRuntime } from "./_cases.ts";
import {
  ANY_COLUMNS,
  assertCloseToTwin,
  chunkLimit,
  columnGrid,
  FLOAT_TYPES,
  randomWeight,
  readModelTensor,
  typeTag,
  WEIGHT_TYPES,
} from "./_quant_cases.ts";

// Tolerances as for matvec: same f32 weights, f32 sums in tile order vs f64
// sums in the twin (measured NMSE ~1e-14).
const MAX_NMSE = 1e-10;
const MAX_ABS_PER_SCALE = 1e-5;
const SENTINEL = 12345;

interface Case {
  rows: number;
  cols: number;
  tokens: number;
  /** Tokens of the step when smaller than `tokens` (buffers hold `tokens`). */
  stepTokens?: number;
  accumulate?: boolean;
  maxChunkBytes?: number;
  /** Force this workgroup tile (default: the op's choice for the adapter). */
  tile?: MatmulTileName;
}

async function runCase(
  rt: GpuRuntime,
  type: GgmlType,
  c: Case,
  seed: number,
  bytes = randomWeight(type, c.rows, c.cols, seed),
) {
  const { rows, cols, tokens } = c;
  const active = c.stepTokens ?? tokens;
  const x = randomValues(seed + 1, tokens * cols);
  const y0 = c.accumulate ? randomValues(seed + 2, tokens * rows) : new Float32Array(tokens * rows);
  if (!c.accumulate) y0.fill(SENTINEL);
  const weight = createGpuWeight(rt, bytes, { name: "w", type, rows, cols }, {
    ...(c.maxChunkBytes === undefined ? {} : { maxChunkBytes: c.maxChunkBytes }),
  });
  const xBuf = storageOf(rt.device, x, "x");
  const yBuf = storageOf(rt.device, y0, "y");
  const step = c.stepTokens === undefined
    ? undefined
    : stepBuffer(rt.device, { pos: 0, nTokens: c.stepTokens, nKv: 0, seed: 0 });
  const op = createMatmul(rt, {
    weight,
    x: xBuf,
    y: yBuf,
    maxTokens: tokens,
    accumulate: c.accumulate ?? false,
    ...(step === undefined ? {} : { step }),
    ...(c.tile === undefined ? {} : { tile: c.tile }),
  });
  submitPass(rt.device, [op]);
  const got = await readF32(rt.device, yBuf, tokens * rows);
  op.destroy();
  step?.destroy();
  destroyGpuWeight(weight);
  xBuf.destroy();
  yBuf.destroy();
  const want = matmul(type, bytes, rows, cols, x, active);
  if (c.accumulate) { for (let i = 0; i < want.length; i++) want[i] = want[i]! + y0[i]!; }
  return { got, want, active, chunks: weight.chunks.length };
}

async function check(
  rt: GpuRuntime,
  type: GgmlType,
  c: Case,
  seed: number,
  label: string,
  bytes?: Uint8Array,
) {
  const { got, want, active, chunks } = await runCase(rt, type, c, seed, bytes);
  assertCloseToTwin(got.subarray(0, active * c.rows), want, label, MAX_NMSE, MAX_ABS_PER_SCALE);
  for (let i = active * c.rows; i < got.length; i++) {
    assert.equal(got[i], SENTINEL, `${label}: Y[${i}] past the step's tokens was written`);
  }
  return chunks;
}

for (const type of WEIGHT_TYPES) {
  const tag = typeTag(type);
  const cols = columnGrid(type);
  const shapes: Case[] = [
    { rows: 1, cols: cols[0]!, tokens: 1 },
    { rows: 3, cols: 2048, tokens: 5 },
    { rows: 17, cols: cols[1]!, tokens: 33 },
    { rows: 255, cols: 256, tokens: 33 },
    { rows: 40, cols: 768, tokens: 5, accumulate: true },
  ];
  Deno.test({
    name: `matmul_${tag} matches the CPU twin over a grid of shapes`,
    ...gpuTestOptions,
    fn: async (t) => {
      const rt = await testRuntime();
      for (const [i, c] of shapes.entries()) {
        const name = `matmul_${tag}(rows=${c.rows}, cols=${c.cols}, T=${c.tokens}${
          c.accumulate ? ", acc" : ""
        })`;
        await t.step(name, () => check(rt, type, c, 100 * type + i, name).then(() => {}));
      }
    },
  });
}

// Each tile on every adapter (by default the wide, large and broadcast tiles
// serve only big weights): the broadcast and large ones for every type (the
// CPU driver's choices), the wide one (the GPU's) for a few; two row tiles
// and two token tiles of the large tile, then a short step.
const WIDE_TILE_TYPES: readonly GgmlType[] = [GgmlType.Q8_0, GgmlType.Q4_K, GgmlType.F16];
for (const type of WEIGHT_TYPES) {
  const tag = typeTag(type);
  const cols = columnGrid(type)[1]!;
  const tiles: MatmulTileName[] = WIDE_TILE_TYPES.includes(type)
    ? ["wide", "large", "broadcast"]
    : ["large", "broadcast"];
  Deno.test({
    name: `matmul_${tag} with the ${tiles.join(" and ")} tile matches the CPU twin`,
    ...gpuTestOptions,
    fn: async (t) => {
      const rt = await testRuntime();
      for (const tile of tiles) {
        const shapes: Case[] = [
          { rows: 130, cols, tokens: 129, accumulate: true, tile },
          { rows: 9, cols, tokens: 70, stepTokens: 66, tile },
        ];
        if (FLOAT_TYPES.includes(type) && tile !== "broadcast") {
          shapes.push({ rows: 13, cols: 173, tokens: 33, tile });
        }
        for (const [i, c] of shapes.entries()) {
          const name = `matmul_${tag}:${tile}(rows=${c.rows}, cols=${c.cols}, T=${c.tokens}${
            c.stepTokens ? `, n_tokens=${c.stepTokens}` : ""
          }${c.accumulate ? ", acc" : ""})`;
          await t.step(name, () => check(rt, type, c, 70 * type + i, name).then(() => {}));
        }
      }
    },
  });
}

for (const type of FLOAT_TYPES) {
  const tag = typeTag(type);
  Deno.test({
    name: `matmul_${tag} matches the CPU twin for any row length`,
    ...gpuTestOptions,
    fn: async (t) => {
      const rt = await testRuntime();
      // 33 tokens span two token tiles; with cols % 4 ≠ 0 the X rows are not vec4-aligned.
      const shapes: Case[] = ANY_COLUMNS.map((cols, i) => ({
        rows: 13,
        cols,
        tokens: cols > 1000 ? 5 : 33,
        accumulate: i === 1,
      }));
      // 3 rows per chunk: with odd F16/BF16 rows a chunk's byte length is not a multiple of 4.
      shapes.push({
        rows: 13,
        cols: 173,
        tokens: 7,
        maxChunkBytes: chunkLimit(3, rowBytes(type, 173)),
      });
      shapes.push({ rows: 37, cols: 173, tokens: 33, stepTokens: 30 });
      for (const [i, c] of shapes.entries()) {
        const name = `matmul_${tag}(rows=${c.rows}, cols=${c.cols}, T=${c.tokens}${
          c.accumulate ? ", acc" : ""
        }${c.maxChunkBytes ? ", 3-row chunks" : ""}${
          c.stepTokens ? `, n_tokens=${c.stepTokens}` : ""
        })`;
        await t.step(name, () => check(rt, type, c, 40 * type + i, name).then(() => {}));
      }
    },
  });
}

for (const file of ["stories260K.gguf", "stories260K-F16.gguf"]) {
  Deno.test({
    name: `matmul on ${file} blk.0.ffn_down (64 rows of 172, T=9) matches the CPU twin`,
    ...gpuTestOptions,
    fn: async () => {
      const rt = await testRuntime();
      const w = await readModelTensor(file, "blk.0.ffn_down.weight");
      assert.deepEqual([w.rows, w.cols], [64, 172]);
      const c = { rows: w.rows, cols: w.cols, tokens: 9 };
      await check(rt, w.type, c, 3, `matmul ${file} ffn_down`, w.bytes);
    },
  });
}

Deno.test({
  name: "matmul_q8_0(rows=17, cols=96, T=33) with n_tokens = 5 in the step writes only 5 tokens",
  ...gpuTestOptions,
  fn: async () => {
    const rt = await testRuntime();
    const c = { rows: 17, cols: 96, tokens: 33, stepTokens: 5 };
    await check(rt, GgmlType.Q8_0, c, 11, "matmul_q8_0 step");
  },
});

Deno.test({
  name: "matmul_q5_0 on a weight split into 4-row chunks matches the unsplit twin",
  ...gpuTestOptions,
  fn: async () => {
    const rt = await testRuntime();
    // 3 blocks of 22 bytes = 66-byte rows: 4 rows take 264 bytes, padded to 272.
    const c = {
      rows: 37,
      cols: 96,
      tokens: 5,
      maxChunkBytes: chunkLimit(4, rowBytes(GgmlType.Q5_0, 96)),
    };
    assert.equal(await check(rt, GgmlType.Q5_0, c, 13, "matmul_q5_0 chunked"), 10);
  },
});

Deno.test({
  name: "dbg_matmul_f32(rows=2, cols=8, T=2) gives the hand-computed products",
  ...gpuTestOptions,
  fn: async () => {
    const rt = await testRuntime();
    // W rows: all ones, then 0..7; X rows: all ones, then all twos.
    const w = Float32Array.from({ length: 16 }, (_, i) => (i < 8 ? 1 : i - 8));
    const x = Float32Array.from({ length: 16 }, (_, i) => (i < 8 ? 1 : 2));
    const bytes = new Uint8Array(w.buffer);
    const expected = [8, 28, 16, 56];
    assert.deepEqual([...matmul(GgmlType.F32, bytes, 2, 8, x, 2)], expected);
    const weight = createGpuWeight(rt, bytes, {
      name: "dbg",
      type: GgmlType.F32,
      rows: 2,
      cols: 8,
    });
    const xBuf = storageOf(rt.device, x, "x");
    const yBuf = storageOf(rt.device, new Float32Array(4), "y");
    const op = createMatmul(rt, { weight, x: xBuf, y: yBuf, maxTokens: 2 });
    submitPass(rt.device, [op]);
    assert.deepEqual([...(await readF32(rt.device, yBuf, 4))], expected);
    op.destroy();
    destroyGpuWeight(weight);
    xBuf.destroy();
    yBuf.destroy();
  },
});

Deno.test({
  name: "createMatmul() rejects the broadcast tile for rows that are not a multiple of 8",
  ...gpuTestOptions,
  fn: async () => {
    const rt = await testRuntime();
    const weight = createGpuWeight(rt, randomWeight(GgmlType.F32, 2, 12, 5), {
      name: "w",
      type: GgmlType.F32,
      rows: 2,
      cols: 12,
    });
    const x = storageOf(rt.device, new Float32Array(24), "x");
    const y = storageOf(rt.device, new Float32Array(4), "y");
    assert.throws(
      () => createMatmul(rt, { weight, x, y, maxTokens: 2, tile: "broadcast" }),
      /broadcast tile on weight "w": 12 columns, expected a multiple of 8/,
    );
    destroyGpuWeight(weight);
    x.destroy();
    y.destroy();
  },
});

Deno.test({
  name: "createMatmul() rejects an output buffer smaller than tokens × rows",
  ...gpuTestOptions,
  fn: async () => {
    const rt = await testRuntime();
    const bytes = randomWeight(GgmlType.Q8_0, 4, 32, 1);
    const weight = createGpuWeight(rt, bytes, {
      name: "blk.0.attn_q.weight",
      type: GgmlType.Q8_0,
      rows: 4,
      cols: 32,
    });
    const x = storageOf(rt.device, new Float32Array(3 * 32), "x");
    const y = storageOf(rt.device, new Float32Array(4), "y");
    assert.throws(
      () => createMatmul(rt, { weight, x, y, maxTokens: 3 }),
      /Cannot run matmul_q8_0 on weight "blk\.0\.attn_q\.weight": buffer "y" holds 4 elements, expected 3×4 = 12/,
    );
    destroyGpuWeight(weight);
    x.destroy();
    y.destroy();
  },
});
