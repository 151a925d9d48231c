import assert from "node:assert/strict";
import { GgmlType, ggmlTypeName } from "../../src/gguf/ggml_type.ts";
import { f16ToF32 } from "../../src/gguf/half.ts";
import { type GgufFile, openGguf } from "../../src/gguf/reader.ts";
import { dequantize } from "../../src/gguf/dequantize.ts";

const models = new URL("../../../shared/models/", import.meta.url);

/** Every tensor of `file` as f32 values, keyed by tensor name. */
async function tensorsOf(file: GgufFile): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const t of file.tensors) {
    out.set(t.name, dequantize(t.type, await file.readTensor(t), t.elementCount));
  }
  return out;
}

const reference = await (async () => {
  const file = await openGguf(new URL("stories260K.gguf", models).pathname);
  try {
    return await tensorsOf(file);
  } finally {
    file.close();
  }
})();

Deno.test("dequantize() turns every F16 tensor of stories260K-F16.gguf into the F32 values rounded to f16", async () => {
  const file = await openGguf(new URL("stories260K-F16.gguf", models).pathname);
  try {
    assert.equal(file.tensors.length, reference.size);
    let f16Tensors = 0;
    let maxError = 0;
    for (const t of file.tensors) {
      const x = reference.get(t.name)!;
      const y = dequantize(t.type, await file.readTensor(t), t.elementCount);
      assert.equal(y.length, x.length, t.name);
      if (t.type === GgmlType.F32) {
        assert.deepEqual(y, x, t.name);
        continue;
      }
      assert.equal(t.type, GgmlType.F16, `${t.name} is ${ggmlTypeName(t.type)}`);
      f16Tensors++;
      for (let i = 0; i < x.length; i++) {
        // Round to nearest even: |x − y| ≤ half an f16 ulp, and y is exactly f16(x).
        const halfUlp = 2 ** (Math.max(-14, Math.floor(Math.log2(Math.abs(x[i]!)))) - 11);
        const err = Math.abs(x[i]! - y[i]!);
        assert.ok(err <= halfUlp, `${t.name}[${i}]: ${y[i]} vs ${x[i]}`);
        assert.equal(y[i], Math.f16round(x[i]!), `${t.name}[${i}]`);
        maxError = Math.max(maxError, err);
      }
    }
    assert.equal(f16Tensors, 37);
    assert.ok(maxError > 0 && maxError < 2 ** -11, `max |error| ${maxError}`); // |weights| < 2
  } finally {
    file.close();
  }
});

Deno.test("dequantize() turns every Q8_0 tensor of stories260K-Q8_0-mix.gguf into the F32 values within its block step", async () => {
  const file = await openGguf(new URL("stories260K-Q8_0-mix.gguf", models).pathname);
  try {
    const counts = new Map<string, number>();
    let maxSteps = 0;
    for (const t of file.tensors) {
      const x = reference.get(t.name)!;
      const raw = await file.readTensor(t);
      const y = dequantize(t.type, raw, t.elementCount);
      const typeName = ggmlTypeName(t.type);
      counts.set(typeName, (counts.get(typeName) ?? 0) + 1);
      if (t.type === GgmlType.F32) assert.deepEqual(y, x, t.name);
      if (t.type === GgmlType.F16) {
        for (let i = 0; i < x.length; i++) assert.equal(y[i], Math.f16round(x[i]!), t.name);
      }
      if (t.type !== GgmlType.Q8_0) continue;
      for (let b = 0; b < x.length / 32; b++) {
        // llama.cpp picks codes with the exact step amax/127, then stores the step as f16:
        // |x − y| ≤ d/2 + 127·|exact − d| (the second term is at most ~0.06 d).
        const d = f16ToF32(raw[34 * b]! | (raw[34 * b + 1]! << 8));
        let amax = 0;
        for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[32 * b + j]!));
        const bound = d / 2 + 127 * Math.abs(amax / 127 - d) + 1e-9;
        for (let j = 32 * b; j < 32 * b + 32; j++) {
          const err = Math.abs(x[j]! - y[j]!);
          assert.ok(err <= bound, `${t.name}[${j}]: ${y[j]} vs ${x[j]}, block step ${d}`);
          maxSteps = Math.max(maxSteps, err / d);
        }
      }
    }
    assert.deepEqual(Object.fromEntries(counts), { F32: 11, F16: 5, Q8_0: 32 });
    assert.ok(maxSteps > 0.5 && maxSteps < 0.5 + 127 * 2 ** -11, `max error ${maxSteps} steps`);
  } finally {
    file.close();
  }
});
