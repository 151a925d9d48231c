/**
 * A short prompt's projections: the batched mat-vec for 8 rows at the shapes
 * of the full-size Qwen2.5-0.5B and Llama-3.2-1B files (their types in the
 * Q4_K_M mix), as milliseconds and as "decode steps" (the 8 rows' time over
 * the one-row mat-vec's). On a CPU fallback adapter both batched kernels run,
 * interleaved: matvec_rows.wgsl over staged groups (the default there) and
 * matvec_batch.wgsl. Each op is recorded 10 times in one pass, so a
 * submission's fixed cost does not count (timeDispatch).
 *
 * `deno run -A scripts/bench/batch_matvec.ts [--rows 8] [--rounds 3]`
 *
 * @module
 */

import { GgmlType, ggmlTypeName, rowBytes } from "../../src/gguf/ggml_type.ts";
import { quantize } from "../../src/gguf/quantize.ts";
import { acquireGpu } from "../../src/gpu/device.ts";
import { createStorageFrom } from "../../src/gpu/buffers.ts";
import { createMatvec, matvecRowsByDefault } from "../../src/gpu/ops/matvec.ts";
import { createMatvecBatch } from "../../src/gpu/ops/matvec_batch.ts";
import { createRuntime } from "../../src/gpu/runtime.ts";
import { createGpuWeight, destroyGpuWeight } from "../../src/gpu/weights.ts";
import { makeRng, randn } from "../../src/reference/prng.ts";
import { flagValue } from "./args.ts";
import { machineLine, median } from "./machine.ts";
import { timeDispatch } from "./roofline.ts";

/** The projections timed: the model, what the weight is, its type and shape. */
const SHAPES: readonly [string, string, GgmlType, number, number][] = [
  ["0.5B", "gate/up", GgmlType.Q5_0, 4864, 896],
  ["0.5B", "q/o", GgmlType.Q5_0, 896, 896],
  ["0.5B", "down", GgmlType.Q6_K, 896, 4864],
  ["0.5B", "down", GgmlType.Q8_0, 896, 4864],
  ["1B", "gate/up", GgmlType.Q4_K, 8192, 2048],
  ["1B", "q/o", GgmlType.Q4_K, 2048, 2048],
  ["1B", "down", GgmlType.Q6_K, 2048, 8192],
];

const ROWS = Number(flagValue(Deno.args, "--rows", "8"));
const ROUNDS = Number(flagValue(Deno.args, "--rounds", "3"));

const rt = createRuntime(await acquireGpu());
console.log(`machine: ${machineLine()}; adapter: ${rt.ctx.description}`);
console.log(`${ROWS} rows against one; milliseconds, medians of ${ROUNDS} rounds\n`);
console.log(
  "| model | weight | type | rows × cols | 1 row | rows kernel | steps | blocks kernel | steps |",
);
console.log("| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |");
for (const [model, name, type, rows, cols] of SHAPES) {
  const rb = rowBytes(type, cols);
  const rng = makeRng(rows + cols);
  const row = quantize(type, Float32Array.from({ length: cols }, () => randn(rng)));
  const bytes = new Uint8Array(rows * rb);
  for (let r = 0; r < rows; r++) bytes.set(row, r * rb);
  const weight = createGpuWeight(rt, bytes, { name, type, rows, cols });
  const values = (n: number) => Float32Array.from({ length: n }, () => randn(rng));
  const x = createStorageFrom(rt.device, values(ROWS * cols), "x");
  const y = createStorageFrom(rt.device, values(ROWS * rows), "y");
  const rowsFit = matvecRowsByDefault(rt, weight);
  const ops = {
    one: createMatvec(rt, { weight, x, y }),
    rows: rowsFit ? createMatvecBatch(rt, { weight, x, y, maxRows: ROWS }) : undefined,
    blocks: createMatvecBatch(rt, { weight, x, y, maxRows: ROWS, rowsPerThread: false }),
  };
  const times = { one: [] as number[], rows: [] as number[], blocks: [] as number[] };
  for (let r = 0; r < ROUNDS; r++) {
    for (const key of ["one", "rows", "blocks"] as const) {
      const op = ops[key];
      if (op) times[key].push(await timeDispatch(rt, op, 10, 1));
    }
  }
  const one = median(times.one);
  const cell = (ms: number[]) =>
    ms.length ? `${median(ms).toFixed(2)} | ${(median(ms) / one).toFixed(2)}` : "— | —";
  console.log(
    `| ${model} | ${name} | ${ggmlTypeName(type)} | ${rows} × ${cols} | ${one.toFixed(2)} | ${
      cell(times.rows)
    } | ${cell(times.blocks)} |`,
  );
  for (const op of Object.values(ops)) op?.destroy();
  destroyGpuWeight(weight);
  x.destroy();
  y.destroy();
}
rt.ctx.device.destroy();
