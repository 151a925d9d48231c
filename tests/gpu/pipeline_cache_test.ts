import assert from "node:assert/strict";
import { PipelineCache } from "../../src/gpu/pipeline_cache.ts";
import { gpuTestOptions, testGpu } from "../_gpu.ts";

const kernel = (value: number) =>
  `@group(0) @binding(0) var<storage, read_write> y: array<f32>;
override K: f32 = 1.0;
@compute @workgroup_size(1) fn main() { y[0] = K * ${value.toFixed(1)}; }`;

Deno.test(
  "PipelineCache compiles once per source and constants, whatever the label",
  gpuTestOptions,
  async () => {
    const { device } = await testGpu();
    const cache = new PipelineCache(device);
    const a = cache.get({ label: "k", code: kernel(1) });
    assert.equal(cache.get({ label: "k", code: kernel(1) }), a);
    assert.equal(cache.size, 1);
    // Two specialisations of one kernel under the same label stay apart.
    const b = cache.get({ label: "k", code: kernel(2) });
    assert.notEqual(b, a);
    const c = cache.get({ label: "k", code: kernel(1), constants: { K: 3 } });
    assert.notEqual(c, a);
    assert.equal(cache.get({ label: "k", code: kernel(1), constants: { K: 3 } }), c);
    assert.equal(cache.size, 3);
  },
);
