import assert from "node:assert/strict";
import { createStorage } from "../../src/gpu/buffers.ts";
import {
  createFmaChains,
  createReadReduction,
  FMA_CHAINS,
  fmaChainFlops,
  readSpan,
  rooflineWorkgroup,
} from "../../scripts/bench/roofline_ops.ts";
import { fmaChains, readReduction } from "../../src/reference/roofline.ts";
import { gpuTestOptions } from "../_gpu.ts";
import { compare, randomValues, readF32, storageOf, submitPass, testRuntime } from "./_cases.ts";

// The read reduction sums in the same order as its twin (f32 each step): bit-equal
// up to how the driver contracts the adds, so a tight bound.
const READ_MAX_NMSE = 1e-12;
// The chains are f32 fused multiply-adds on the GPU and a rounded multiply then
// add in the twin: about one ulp per step, which |b| < 1 keeps from growing.
const FMA_MAX_NMSE = 1e-10;

Deno.test("roofline_read sums every vec4 it streams, like its twin", gpuTestOptions, async () => {
  const rt = await testRuntime();
  for (const [count, workgroups, wg] of [[4096, 4, 8], [1000, 3, 64], [70, 2, 8]] as const) {
    const data = randomValues(7 + count, 4 * count);
    const threads = workgroups * wg;
    const src = storageOf(rt.device, data, "src");
    const out = createStorage(rt.device, 16 * threads, "out");
    const op = createReadReduction(rt, { src, count, out, workgroups, wg });
    submitPass(rt.device, [op]);
    const got = await readF32(rt.device, out, 4 * threads);
    const { nmse } = compare(
      got,
      readReduction(data, workgroups, wg, readSpan(count, workgroups, wg)),
    );
    assert.ok(nmse < READ_MAX_NMSE, `count ${count} on ${threads} threads: NMSE ${nmse}`);
    op.destroy();
    src.destroy();
    out.destroy();
  }
});

Deno.test("roofline_fma runs every chain step, like its twin", gpuTestOptions, async () => {
  const rt = await testRuntime();
  for (const [iters, b, c] of [[4, 0.5, 1], [300, 0.99, 0.01], [2000, -0.999, 0.25]] as const) {
    const workgroups = 2;
    const threads = workgroups * rooflineWorkgroup(rt);
    const out = createStorage(rt.device, 16 * threads, "out");
    const op = createFmaChains(rt, { out, workgroups, iters, b, c });
    submitPass(rt.device, [op]);
    const got = await readF32(rt.device, out, 4 * threads);
    const { nmse } = compare(got, fmaChains(threads, FMA_CHAINS, iters, b, c));
    assert.ok(nmse < FMA_MAX_NMSE, `${iters} steps of ·${b} + ${c}: NMSE ${nmse}`);
    op.destroy();
    out.destroy();
  }
});

Deno.test("fmaChainFlops counts two flops per lane per chain step", () => {
  assert.equal(fmaChainFlops(24, 10), 24 * 10 * FMA_CHAINS * 8);
});
