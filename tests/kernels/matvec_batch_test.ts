import assert from "node:assert/strict";
import { GgmlType, rowBytes } from "../../src/gguf/ggml_type.ts";
import type { GpuRuntime } from "../../src/gpu/runtime.ts";
import {
  createMatvecBatch,
  MATVEC_BATCH_INPUT_USAGE,
  matvecBatchInputBytes,
} from "../../src/gpu/ops/matvec_batch.ts";
import { createFixedStep } from "../../src/gpu/ops/quant_kernel.ts";
import { createGpuWeight, destroyGpuWeight } from "../../src/gpu/weights.ts";
import { matvecBatch } from "../../src/reference/matvec_batch.ts";
import { gpuTestOptions } from "../_gpu.ts";
import { randomValues, readF32, storageOf, submitPass, testRuntime } from "./_cases.ts";
import { assertCloseToTwin, chunkLimit, randomWeight, typeTag } from "./_quant_cases.ts";

// Same tolerances as the single mat-vec: same dequantized f32 values, f32 sums
// in another order than the twin's f64.
const MAX_NMSE = 1e-10;
const MAX_ABS_PER_SCALE = 1e-5;

interface Case {
  rows: number;
  cols: number;
  /** Rows the op is built for (NB). */
  maxRows: number;
  /** Active rows of the step (n_tokens); the rest of Y must stay as it was. */
  active: number;
  accumulate?: boolean;
  /** Weight rows per chunk. */
  chunkRows?: number;
  /** Record only this many rows (encodeRows: the last group through a smaller pipeline). */
  encodeRows?: number;
}

/** X in a buffer the uniform-window reader can bind (sized for every group's window). */
function windowInput(rt: GpuRuntime, x: Float32Array, maxRows: number, cols: number): GPUBuffer {
  const size = matvecBatchInputBytes(maxRows, cols);
  const buffer = rt.device.createBuffer({ label: "x", size, usage: MATVEC_BATCH_INPUT_USAGE });
  rt.device.queue.writeBuffer(buffer, 0, new Float32Array(x));
  return buffer;
}

/** How the op reads: blocks kernel through the storage binding or the uniform window, or matvec_rows. */
type Reader = "storage" | "window" | "rows";

async function runCase(
  rt: GpuRuntime,
  type: GgmlType,
  c: Case,
  seed: number,
  reader: Reader,
) {
  const inputWindow = reader === "window";
  const { rows, cols, maxRows, active } = c;
  const bytes = randomWeight(type, rows, cols, seed);
  const x = randomValues(seed + 1, maxRows * cols);
  const y0 = randomValues(seed + 2, maxRows * rows);
  const weight = createGpuWeight(rt, bytes, { name: "w", type, rows, cols }, {
    ...(c.chunkRows ? { maxChunkBytes: chunkLimit(c.chunkRows, rowBytes(type, cols)) } : {}),
  });
  const xBuf = inputWindow ? windowInput(rt, x, maxRows, cols) : storageOf(rt.device, x, "x");
  const yBuf = storageOf(rt.device, y0, "y");
  const step = createFixedStep(rt.device, active, "step");
  const op = createMatvecBatch(rt, {
    weight,
    x: xBuf,
    y: yBuf,
    maxRows,
    step,
    accumulate: c.accumulate ?? false,
    rowsPerThread: reader === "rows",
    ...(reader === "rows" ? {} : { inputWindow }),
  });
  const recorded = c.encodeRows;
  submitPass(rt.device, [
    recorded === undefined ? op : { encode: (p) => op.encodeRows(p, recorded), destroy() {} },
  ]);
  const got = await readF32(rt.device, yBuf, maxRows * rows);
  const chunks = weight.chunks.length;
  op.destroy();
  destroyGpuWeight(weight);
  for (const b of [xBuf, yBuf, step]) b.destroy();
  const want = matvecBatch(type, bytes, rows, cols, x, active);
  if (c.accumulate) { for (let i = 0; i < want.length; i++) want[i] = want[i]! + y0[i]!; }
  return { got, want, untouched: y0.subarray(active * rows), chunks };
}

const TYPES = [
  GgmlType.F32,
  GgmlType.F16,
  GgmlType.Q8_0,
  GgmlType.Q4_0,
  GgmlType.Q5_0,
  GgmlType.Q4_K,
  GgmlType.Q6_K,
];

/** The types matvec_rows.wgsl runs (matvecRowsFits), tested through it as well. */
const ROWS_TYPES = new Set([GgmlType.Q8_0, GgmlType.Q5_0, GgmlType.Q4_K, GgmlType.Q6_K]);

for (const type of TYPES) {
  const tag = typeTag(type);
  const shapes: Case[] = [
    { rows: 1, cols: 256, maxRows: 1, active: 1 },
    { rows: 17, cols: 768, maxRows: 3, active: 3 },
    { rows: 66, cols: 512, maxRows: 8, active: 8, accumulate: true },
    { rows: 35, cols: 256, maxRows: 8, active: 5 },
    { rows: 21, cols: 256, maxRows: 4, active: 4, chunkRows: 6 },
    // More rows than one dispatch serves: groups of 8, a partial last group,
    // and groups past the step's rows that must leave Y alone.
    { rows: 19, cols: 256, maxRows: 16, active: 16, accumulate: true },
    { rows: 13, cols: 512, maxRows: 20, active: 11, chunkRows: 5 },
    { rows: 9, cols: 256, maxRows: 24, active: 8 },
    // Only the step's rows recorded: a last group of 3 (the 4-row pipeline), of 1, of 2 of 8,
    // and 3 rows of an op built for 3 (no pipeline above the op's rows).
    { rows: 19, cols: 256, maxRows: 16, active: 11, encodeRows: 11, accumulate: true },
    { rows: 13, cols: 512, maxRows: 20, active: 9, encodeRows: 9 },
    { rows: 17, cols: 768, maxRows: 8, active: 2, encodeRows: 2 },
    { rows: 10, cols: 256, maxRows: 3, active: 3, encodeRows: 3 },
    // Rows wider than matvec_rows stages at once for 8 inputs (2,048 columns): spans of
    // columns added into Y, over two groups, the second partial.
    { rows: 9, cols: 4864, maxRows: 12, active: 11, accumulate: true },
    { rows: 5, cols: 2304, maxRows: 8, active: 6, encodeRows: 6 },
  ];
  Deno.test({
    name: `matvec_batch_${tag} matches the CPU twin row by row`,
    ...gpuTestOptions,
    fn: async (t) => {
      const rt = await testRuntime();
      // Every reader: the blocks kernel through the storage binding (GPUs) and the uniform
      // window (CPU drivers), and matvec_rows (CPU drivers, its types).
      const readers: Reader[] = ROWS_TYPES.has(type)
        ? ["storage", "window", "rows"]
        : ["storage", "window"];
      for (const [i, c] of shapes.entries()) {
        for (const reader of readers) {
          // The window holds a group's 8 rows only up to 2,048 columns.
          if (reader === "window" && Math.min(c.maxRows, 8) * c.cols * 4 > 65536) continue;
          const name =
            `matvec_batch_${tag}(rows=${c.rows}, cols=${c.cols}, ${c.active}/${c.maxRows}${
              c.accumulate ? ", acc" : ""
            }${c.chunkRows ? ", chunked" : ""}${
              c.encodeRows ? `, ${c.encodeRows} recorded` : ""
            }, ${reader})`;
          await t.step(name, async () => {
            const { got, want, untouched, chunks } = await runCase(
              rt,
              type,
              c,
              50 * type + i,
              reader,
            );
            assertCloseToTwin(
              got.subarray(0, want.length),
              want,
              name,
              MAX_NMSE,
              MAX_ABS_PER_SCALE,
            );
            // Rows past the step's n_tokens are neither read nor written.
            assert.deepEqual(got.subarray(want.length), untouched);
            if (c.chunkRows) {
              assert.ok(chunks > 1, `${name}: expected several chunks, got ${chunks}`);
            }
          });
        }
      }
    },
  });
}

Deno.test({
  name: "matvec_batch refuses no rows, columns not in eights and a window that does not fit",
  ...gpuTestOptions,
  fn: async () => {
    const rt = await testRuntime();
    const bytes = randomWeight(GgmlType.F32, 4, 12, 1);
    const odd = createGpuWeight(rt, bytes, { name: "odd", type: GgmlType.F32, rows: 4, cols: 12 });
    const buf = storageOf(rt.device, new Float32Array(9 * 12), "b");
    assert.throws(
      () => createMatvecBatch(rt, { weight: odd, x: buf, y: buf, maxRows: 2 }),
      RangeError,
    );
    destroyGpuWeight(odd);
    const ok = createGpuWeight(rt, randomWeight(GgmlType.F32, 4, 8, 2), {
      name: "ok",
      type: GgmlType.F32,
      rows: 4,
      cols: 8,
    });
    assert.throws(
      () => createMatvecBatch(rt, { weight: ok, x: buf, y: buf, maxRows: 0 }),
      /at least 1 row/,
    );
    // The uniform window needs a uniform buffer large enough for every group's window.
    assert.throws(
      () => createMatvecBatch(rt, { weight: ok, x: buf, y: buf, maxRows: 2, inputWindow: true }),
      /uniform window/,
    );
    destroyGpuWeight(ok);
    buf.destroy();
  },
});
