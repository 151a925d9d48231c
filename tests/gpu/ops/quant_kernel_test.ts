import assert from "node:assert/strict";
import { GgmlType } from "../../../src/gguf/ggml_type.ts";
import {
  activationInput,
  quantColumnMultiple,
  quantConstants,
  quantKernelSource,
  specializeSource,
} from "../../../src/gpu/ops/quant_kernel.ts";

Deno.test("quantColumnMultiple() is the block size: any row length for float types", () => {
  assert.equal(quantColumnMultiple(GgmlType.F32), 1);
  assert.equal(quantColumnMultiple(GgmlType.F16), 1);
  assert.equal(quantColumnMultiple(GgmlType.BF16), 1);
  assert.equal(quantColumnMultiple(GgmlType.Q5_1), 32);
  assert.equal(quantColumnMultiple(GgmlType.Q6_K), 256);
});

Deno.test("quantKernelSource() puts the type's deq8 between the helpers and the body", () => {
  const code = quantKernelSource(GgmlType.Q4_K, "// body");
  assert.match(code, /fn wq_u32x2[\s\S]*const QB: u32 = 144u;[\s\S]*\/\/ body$/);
});

Deno.test("activationInput() reads x as vec4 only when its rows are a multiple of 4 long", () => {
  assert.equal(activationInput(172).suffix, "");
  assert.match(activationInput(172).code, /array<vec4<f32>>/);
  assert.equal(activationInput(173).suffix, "_xf32");
  assert.match(activationInput(173).code, /var<storage, read> x: array<f32>/);
});

Deno.test("quantConstants() sets ROWS_ALIGNED only for rows a multiple of 16 bytes long", () => {
  const weight = (rowBytes: number) => ({
    name: "w",
    type: GgmlType.F16,
    rows: 1,
    cols: rowBytes / 2,
    rowBytes,
    chunks: [],
    byteSize: rowBytes,
  });
  assert.deepEqual(quantConstants(weight(16)), { ROWS_ALIGNED: 1 });
  assert.deepEqual(quantConstants(weight(344)), { ROWS_ALIGNED: 0 });
  assert.deepEqual(quantConstants(weight(346)), { ROWS_ALIGNED: 0 });
});

Deno.test("specializeSource() keeps the sections whose flag is set and drops the markers", () => {
  const code = "a\n  // @if X\n  b\n  // @end X\n// @if Y\nc\n// @end Y\nd\n";
  assert.equal(specializeSource(code, { X: true, Y: false }), "a\n  b\nd\n");
  assert.equal(specializeSource(code, { X: false, Y: true }), "a\nc\nd\n");
  assert.throws(() => specializeSource(code, { X: true }), /no flag for section "Y"/);
});
