import assert from "node:assert/strict";
import { GgmlType, rowBytes } from "../../src/gguf/ggml_type.ts";
import { quantize } from "../../src/gguf/quantize.ts";
import type { GpuRuntime } from "../../src/gpu/runtime.ts";
import {
  createMatvec,
  MATVEC_ROWS_PER_WORKGROUP,
  matvecRowsFits,
} from "../../src/gpu/ops/matvec.ts";
import { createGpuWeight, destroyGpuWeight } from "../../src/gpu/weights.ts";
import { matvec } from "../../src/reference/matvec.ts";
import { rmsNorm } from "../../src/reference/rms_norm.ts";
import { siluMul } from "../../src/reference/silu_mul.ts";
import { gpuTestOptions } from "../_gpu.ts";
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

// Tolerances: the GPU dequantizes to the same f32 values as the twin (up to
// f32 rounding of scale products) and sums in f32 in another order, while the
// twin sums in f64. Measured NMSE is ~1e-14; max-abs error ~1e-7 of the
// largest output.
const MAX_NMSE = 1e-10;
const MAX_ABS_PER_SCALE = 1e-5;

interface Case {
  rows: number;
  cols: number;
  accumulate?: boolean;
  maxChunkBytes?: number;
  workgroupSize?: number;
  /** Force matvec_rows.wgsl (true) or matvec_blocks.wgsl (false); absent: the adapter's default. */
  rowsPerThread?: boolean;
  /** A fused input reader: x read through an RMS norm, or as silu(x)·up. */
  input?: "rms_norm" | "silu_mul";
}

/** The norm's epsilon in the fused-reader cases. */
const EPS = 1e-5;

async function runCase(
  rt: GpuRuntime,
  type: GgmlType,
  c: Case,
  seed: number,
  bytes = randomWeight(type, c.rows, c.cols, seed),
) {
  const { rows, cols } = c;
  const x = randomValues(seed + 1, cols);
  const y0 = randomValues(seed + 2, rows);
  const weight = createGpuWeight(rt, bytes, { name: "w", type, rows, cols }, {
    ...(c.maxChunkBytes === undefined ? {} : { maxChunkBytes: c.maxChunkBytes }),
  });
  // The fused readers' second input: the norm weight or the up projection.
  const second = randomValues(seed + 3, cols, 2);
  const xBuf = storageOf(rt.device, x, "x");
  const yBuf = storageOf(rt.device, y0, "y");
  const secondBuf = storageOf(rt.device, second, "second");
  const op = createMatvec(rt, {
    weight,
    x: xBuf,
    y: yBuf,
    accumulate: c.accumulate ?? false,
    ...(c.workgroupSize === undefined ? {} : { workgroupSize: c.workgroupSize }),
    ...(c.rowsPerThread === undefined ? {} : { rowsPerThread: c.rowsPerThread }),
    ...(c.input === "rms_norm" ? { rmsNorm: { weight: secondBuf, eps: EPS } } : {}),
    ...(c.input === "silu_mul" ? { siluUp: secondBuf } : {}),
  });
  submitPass(rt.device, [op]);
  const got = await readF32(rt.device, yBuf, rows);
  op.destroy();
  destroyGpuWeight(weight);
  for (const b of [xBuf, yBuf, secondBuf]) b.destroy();
  // The fused kernel against the twins composed: rms_norm or silu_mul, then matvec.
  const input = c.input === "rms_norm"
    ? rmsNorm(x, second, cols, EPS)
    : c.input === "silu_mul"
    ? siluMul(x, second)
    : x;
  const want = matvec(type, bytes, rows, cols, input);
  if (c.accumulate) { for (let r = 0; r < rows; r++) want[r] = want[r]! + y0[r]!; }
  return { got, want, chunks: weight.chunks.length };
}

function assertClose(got: Float32Array, want: Float32Array, label: string) {
  assertCloseToTwin(got, want, label, MAX_NMSE, MAX_ABS_PER_SCALE);
}

for (const type of WEIGHT_TYPES) {
  const tag = typeTag(type);
  const cols = columnGrid(type);
  const shapes: Case[] = [
    { rows: 1, cols: 2048 },
    { rows: 3, cols: cols[0]! },
    { rows: 17, cols: cols[1]! },
    { rows: 255, cols: 256 },
    { rows: 1000, cols: cols[0]! },
    { rows: 5, cols: 768, accumulate: true },
  ];
  Deno.test({
    name: `matvec_${tag} matches the CPU twin over a grid of shapes`,
    ...gpuTestOptions,
    fn: async (t) => {
      const rt = await testRuntime();
      for (const [i, c] of shapes.entries()) {
        const name = `matvec_${tag}(rows=${c.rows}, cols=${c.cols}${c.accumulate ? ", acc" : ""})`;
        await t.step(name, async () => {
          const { got, want } = await runCase(rt, type, c, 100 * type + i);
          assertClose(got, want, name);
        });
      }
    },
  });
}

for (const type of FLOAT_TYPES) {
  const tag = typeTag(type);
  Deno.test({
    name: `matvec_${tag} matches the CPU twin for any row length`,
    ...gpuTestOptions,
    fn: async (t) => {
      const rt = await testRuntime();
      const shapes: Case[] = ANY_COLUMNS.map((cols, i) => ({
        rows: 13,
        cols,
        accumulate: i === 1,
      }));
      // 3 rows per chunk: with odd F16/BF16 rows a chunk's byte length is not a multiple of 4.
      shapes.push({ rows: 13, cols: 173, maxChunkBytes: chunkLimit(3, rowBytes(type, 173)) });
      // 64 threads: the partial last group (4095 = 511·8 + 7) falls on thread 511 % 64.
      shapes.push({ rows: 9, cols: 4095, workgroupSize: 64 });
      for (const [i, c] of shapes.entries()) {
        const name = `matvec_${tag}(rows=${c.rows}, cols=${c.cols}${c.accumulate ? ", acc" : ""}${
          c.maxChunkBytes ? ", 3-row chunks" : ""
        }${c.workgroupSize ? `, wg=${c.workgroupSize}` : ""})`;
        await t.step(name, async () => {
          const { got, want } = await runCase(rt, type, c, 40 * type + i);
          assertClose(got, want, name);
        });
      }
    },
  });
}

for (const input of ["rms_norm", "silu_mul"] as const) {
  Deno.test({
    name: `matvec with a fused ${input} input matches the twins ${input} then matvec`,
    ...gpuTestOptions,
    fn: async (t) => {
      const rt = await testRuntime();
      const shapes: [GgmlType, Case][] = [
        ...WEIGHT_TYPES.map((type): [GgmlType, Case] => [
          type,
          { rows: 17, cols: columnGrid(type)[0]!, input },
        ]),
        // cols % 8 = 4: the float types' masked last group reads through x1.
        [GgmlType.F32, { rows: 9, cols: 172, input, accumulate: true }],
        [GgmlType.F16, { rows: 64, cols: 4, input }],
        [GgmlType.Q8_0, { rows: 30, cols: 4096, input, workgroupSize: 64, rowsPerThread: false }],
      ];
      for (const [i, [type, c]] of shapes.entries()) {
        const name = `matvec_${typeTag(type)}(rows=${c.rows}, cols=${c.cols}, ${input}${
          c.accumulate ? ", acc" : ""
        }${c.workgroupSize ? `, wg=${c.workgroupSize}` : ""})`;
        await t.step(name, async () => {
          const { got, want } = await runCase(rt, type, c, 300 + 10 * type + i);
          assertClose(got, want, name);
        });
      }
    },
  });
}

/** The types matvec_rows.wgsl covers, with column counts of whole units it is tested at. */
const ROWS_TYPES: ReadonlyArray<readonly [GgmlType, readonly number[]]> = [
  [GgmlType.Q8_0, [128, 384, 896, 4864]],
  [GgmlType.Q5_0, [128, 384, 896, 4864]],
  [GgmlType.Q4_K, [256, 768, 2048, 4864]],
  [GgmlType.Q6_K, [256, 768, 2048, 4864]],
];

// Both kernels on this adapter: matvec_rows.wgsl (a CPU adapter's default for
// these types) and matvec_blocks.wgsl (the GPU default), forced either way.
// Row counts off the 32- and 64-row workgroups; rows of 896 Q8_0/Q5_0 and 768/4864
// Q6_K columns start at every alignment the unit readers handle; 3-row chunks
// end mid-vec4.
for (const [type, cols] of ROWS_TYPES) {
  const tag = typeTag(type);
  const shapes: Case[] = [
    { rows: 9, cols: cols[0]! },
    { rows: 67, cols: cols[2]! },
    { rows: 130, cols: cols[1]!, accumulate: true },
    { rows: 17, cols: cols[1]!, maxChunkBytes: chunkLimit(3, rowBytes(type, cols[1]!)) },
    { rows: 70, cols: cols[2]!, input: "rms_norm" },
    { rows: 65, cols: cols[3]!, input: "silu_mul", accumulate: true },
  ];
  Deno.test({
    name: `matvec_${tag} matches the CPU twin through both kernels, rows and blocks`,
    ...gpuTestOptions,
    fn: async (t) => {
      const rt = await testRuntime();
      for (const rowsPerThread of [true, false]) {
        for (const [i, c] of shapes.entries()) {
          const name = `matvec_${
            rowsPerThread ? "rows" : "blocks"
          }_${tag}(rows=${c.rows}, cols=${c.cols}${c.accumulate ? ", acc" : ""}${
            c.maxChunkBytes ? ", 3-row chunks" : ""
          }${c.input ? `, ${c.input}` : ""})`;
          await t.step(name, async () => {
            const { got, want } = await runCase(
              rt,
              type,
              { ...c, rowsPerThread },
              500 + 10 * type + i,
            );
            assertClose(got, want, name);
          });
        }
      }
    },
  });
}

Deno.test({
  name: "matvecRowsFits() takes Q8_0/Q5_0/Q4_K/Q6_K rows of whole units up to the 64 KiB uniform",
  ...gpuTestOptions,
  fn: async () => {
    const rt = await testRuntime();
    const fits = (type: GgmlType, cols: number) =>
      matvecRowsFits(rt.device, {
        name: "w",
        type,
        rows: 1,
        cols,
        rowBytes: rowBytes(type, cols),
        chunks: [],
        byteSize: rowBytes(type, cols),
      });
    assert.ok(fits(GgmlType.Q8_0, 896) && fits(GgmlType.Q5_0, 128) && fits(GgmlType.Q4_K, 14336));
    assert.ok(fits(GgmlType.Q6_K, 15360), "15360 columns stage 65,280 bytes");
    assert.ok(!fits(GgmlType.Q6_K, 15616), "15616 columns stage 66,368 bytes");
    assert.ok(!fits(GgmlType.Q8_0, 96) && !fits(GgmlType.Q5_0, 224), "not whole 128-column units");
    assert.ok(!fits(GgmlType.Q4_0, 4096) && !fits(GgmlType.F16, 4096), "other types");
  },
});

Deno.test({
  name: "createMatvec() rejects rowsPerThread on a weight matvec_rows cannot run",
  ...gpuTestOptions,
  fn: async () => {
    const rt = await testRuntime();
    const bytes = randomWeight(GgmlType.Q8_0, 2, 96, 1);
    const weight = createGpuWeight(rt, bytes, {
      name: "w96",
      type: GgmlType.Q8_0,
      rows: 2,
      cols: 96,
    });
    const buffer = storageOf(rt.device, new Float32Array(96), "v");
    assert.throws(
      () => createMatvec(rt, { weight, x: buffer, y: buffer, rowsPerThread: true }),
      /with a thread per row on weight "w96": .* got 96/,
    );
    buffer.destroy();
    destroyGpuWeight(weight);
  },
});

Deno.test({
  name: "createMatvec() rejects a fused input over columns that are not a multiple of 4",
  ...gpuTestOptions,
  fn: async () => {
    const rt = await testRuntime();
    const bytes = randomWeight(GgmlType.F32, 2, 6, 1);
    const weight = createGpuWeight(rt, bytes, { name: "w6", type: GgmlType.F32, rows: 2, cols: 6 });
    const buffer = storageOf(rt.device, new Float32Array(8), "v");
    assert.throws(
      () => createMatvec(rt, { weight, x: buffer, y: buffer, siluUp: buffer }),
      /a fused up input needs columns in fours, weight "w6" has 6/,
    );
    buffer.destroy();
    destroyGpuWeight(weight);
  },
});

for (const file of ["stories260K.gguf", "stories260K-F16.gguf"]) {
  Deno.test({
    name: `matvec on ${file} blk.0.ffn_down (64 rows of 172) matches the CPU twin`,
    ...gpuTestOptions,
    fn: async () => {
      const rt = await testRuntime();
      const w = await readModelTensor(file, "blk.0.ffn_down.weight");
      assert.deepEqual([w.rows, w.cols], [64, 172]);
      const { got, want } = await runCase(rt, w.type, { rows: w.rows, cols: w.cols }, 3, w.bytes);
      assertClose(got, want, `matvec ${file} ffn_down`);
    },
  });
}

Deno.test({
  name: "matvec_q6_k on a weight split into 3-row chunks matches the unsplit twin",
  ...gpuTestOptions,
  fn: async () => {
    const rt = await testRuntime();
    // 210-byte rows: 3 rows take 630 bytes, padded to 640 in each chunk buffer.
    const c = { rows: 17, cols: 256, maxChunkBytes: chunkLimit(3, rowBytes(GgmlType.Q6_K, 256)) };
    const { got, want, chunks } = await runCase(rt, GgmlType.Q6_K, c, 7);
    assert.equal(chunks, 6);
    assertClose(got, want, "matvec_q6_k chunked");
  },
});

const FOLDED_ROWS = 65535 * MATVEC_ROWS_PER_WORKGROUP + 3;
Deno.test({
  name: `matvec_f32(rows=${FOLDED_ROWS}, cols=8) folds its 65536 workgroups into a 2-D dispatch`,
  ...gpuTestOptions,
  fn: async () => {
    const rt = await testRuntime();
    const { got, want } = await runCase(rt, GgmlType.F32, { rows: FOLDED_ROWS, cols: 8 }, 9);
    assertClose(got, want, "matvec_f32 2-D");
    assert.ok(Math.abs(got[FOLDED_ROWS - 1]! - want[FOLDED_ROWS - 1]!) < 1e-5);
  },
});

Deno.test({
  name: "matvec_q4_1 with 64-thread workgroups matches the CPU twin",
  ...gpuTestOptions,
  fn: async () => {
    const rt = await testRuntime();
    const { got, want } = await runCase(rt, GgmlType.Q4_1, {
      rows: 19,
      cols: 2048,
      workgroupSize: 64,
      rowsPerThread: false,
    }, 12);
    assertClose(got, want, "matvec_q4_1 wg=64");
  },
});

Deno.test({
  name: "dbg_matvec_q4_0(rows=1, cols=32) sums codes −8..7 twice at d = 0.5 to −8",
  ...gpuTestOptions,
  fn: async () => {
    const rt = await testRuntime();
    const values = Float32Array.from({ length: 32 }, (_, j) => ((j % 16) - 8) * 0.5);
    const bytes = quantize(GgmlType.Q4_0, values);
    const x = new Float32Array(32).fill(1);
    assert.deepEqual([...matvec(GgmlType.Q4_0, bytes, 1, 32, x)], [-8]);
    const weight = createGpuWeight(rt, bytes, {
      name: "dbg",
      type: GgmlType.Q4_0,
      rows: 1,
      cols: 32,
    });
    const xBuf = storageOf(rt.device, x, "x");
    const yBuf = storageOf(rt.device, new Float32Array(1), "y");
    const op = createMatvec(rt, { weight, x: xBuf, y: yBuf });
    submitPass(rt.device, [op]);
    assert.deepEqual([...(await readF32(rt.device, yBuf, 1))], [-8]);
    op.destroy();
    destroyGpuWeight(weight);
    xBuf.destroy();
    yBuf.destroy();
  },
});

Deno.test({
  name: "dbg_matvec_f16(rows=2, cols=3) reads the second row from a 2-byte offset",
  ...gpuTestOptions,
  fn: async () => {
    const rt = await testRuntime();
    // f16 1 = 0x3C00, 2 = 0x4000, 3 = 0x4200, −1 = 0xBC00; rows (1, 2, 3) and (−1, 3, 2).
    const halves = Uint16Array.of(0x3c00, 0x4000, 0x4200, 0xbc00, 0x4200, 0x4000);
    const bytes = new Uint8Array(halves.buffer);
    const x = Float32Array.of(1, 10, 100);
    const expected = [321, 229];
    assert.deepEqual([...matvec(GgmlType.F16, bytes, 2, 3, x)], expected);
    const weight = createGpuWeight(rt, bytes, {
      name: "dbg",
      type: GgmlType.F16,
      rows: 2,
      cols: 3,
    });
    const xBuf = storageOf(rt.device, x, "x");
    const yBuf = storageOf(rt.device, new Float32Array(2), "y");
    const op = createMatvec(rt, { weight, x: xBuf, y: yBuf });
    submitPass(rt.device, [op]);
    assert.deepEqual([...(await readF32(rt.device, yBuf, 2))], expected);
    op.destroy();
    destroyGpuWeight(weight);
    xBuf.destroy();
    yBuf.destroy();
  },
});

Deno.test({
  name: "createMatvec() rejects a Q4_K weight whose columns are not a multiple of 256",
  ...gpuTestOptions,
  fn: async () => {
    const rt = await testRuntime();
    const buffer = storageOf(rt.device, new Float32Array(64), "v");
    const weight = {
      name: "blk.0.ffn_up.weight",
      type: GgmlType.Q4_K,
      rows: 1,
      cols: 128,
      rowBytes: 72,
      chunks: [],
      byteSize: 72,
    };
    assert.throws(
      () => createMatvec(rt, { weight, x: buffer, y: buffer }),
      /weight "blk\.0\.ffn_up\.weight" has 128 columns, expected a positive multiple of 256/,
    );
    buffer.destroy();
  },
});
