/**
 * Mat-vec bandwidth per weight type (GB/s of weight bytes streamed) on a
 * 4096×4096 weight, against a no-op kernel baseline that shows the cost of a
 * dispatch. Run: `deno bench -A tests/kernels/matvec_bench.ts`. Each
 * iteration is one submission of one mat-vec, waited for.
 */

import { GgmlType, rowBytes } from "../../src/gguf/ggml_type.ts";
import { createStorage } from "../../src/gpu/buffers.ts";
import { measureMatvecBandwidth } from "../../scripts/bench/matvec_bandwidth.ts";
import { createMatvec } from "../../src/gpu/ops/matvec.ts";
import { createRuntime } from "../../src/gpu/runtime.ts";
import { createGpuWeight } from "../../src/gpu/weights.ts";
import { testGpu } from "../_gpu.ts";
import { typeTag, WEIGHT_TYPES } from "./_quant_cases.ts";

const ROWS = 4096;
const COLS = 4096;
const rt = createRuntime(await testGpu());
const { device } = rt;

async function submitAndWait(encode: (pass: GPUComputePassEncoder) => void): Promise<void> {
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  encode(pass);
  pass.end();
  device.queue.submit([encoder.finish()]);
  await device.queue.onSubmittedWorkDone();
}

const noop = device.createComputePipeline({
  label: "noop",
  layout: "auto",
  compute: {
    module: device.createShaderModule({ code: "@compute @workgroup_size(1) fn main() {}" }),
    entryPoint: "main",
  },
});

Deno.bench({
  name: "no-op kernel (dispatch + submit + wait)",
  group: "matvec 4096x4096",
  baseline: true,
  fn: () =>
    submitAndWait((pass) => {
      pass.setPipeline(noop);
      pass.dispatchWorkgroups(1);
    }),
});

for (const type of WEIGHT_TYPES) {
  const bytes = new Uint8Array(ROWS * rowBytes(type, COLS)); // zeros: timing only
  const weight = createGpuWeight(rt, bytes, {
    name: `bench_${typeTag(type)}`,
    type,
    rows: ROWS,
    cols: COLS,
  });
  const op = createMatvec(rt, {
    weight,
    x: createStorage(device, COLS * 4, "x"),
    y: createStorage(device, ROWS * 4, "y"),
  });
  Deno.bench({
    name: `matvec_${typeTag(type)} (${(weight.byteSize / 2 ** 20).toFixed(1)} MiB)`,
    group: "matvec 4096x4096",
    n: 10,
    warmup: 2,
    fn: () => submitAndWait((pass) => op.encode(pass)),
  });
}

// GPU-timed bandwidth (timestamps when available), printed once per type.
for (const type of [GgmlType.F16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q6_K]) {
  const r = await measureMatvecBandwidth(rt, type, ROWS, COLS, 5);
  console.log(
    `matvec_${typeTag(type)} ${ROWS}x${COLS}: ${r.gbPerSecond.toFixed(2)} GB/s, ` +
      `${r.msPerMatvec.toFixed(2)} ms (${r.timestamps ? "timestamps" : "wall clock"})`,
  );
}
