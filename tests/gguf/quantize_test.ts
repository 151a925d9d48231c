import assert from "node:assert/strict";
import { GgmlType, ggmlTypeName, rowBytes } from "../../src/gguf/ggml_type.ts";
import { quantize } from "../../src/gguf/quantize.ts";
import { dequantize } from "../../src/gguf/dequantize.ts";
import { makeRng, randn } from "../../src/reference/prng.ts";

/**
 * 16 super-blocks (4096 values) of N(0, 0.5²) with every 97th value a ×30
 * outlier, plus special super-blocks: 3 all zeros, 5 a constant, 6 all
 * negative, 7 small (N(0, 0.01²)), and within super-block 9 one zero
 * 32-element block next to normal ones.
 */
function testVector(seed: number): Float32Array {
  const rng = makeRng(seed);
  const v = Float32Array.from({ length: 4096 }, (_, i) => (i % 97 === 0 ? 15 : 0.5) * randn(rng));
  v.fill(0, 3 * 256, 4 * 256);
  v.fill(0.7, 5 * 256, 6 * 256);
  for (let i = 6 * 256; i < 7 * 256; i++) v[i] = -Math.abs(v[i]!);
  for (let i = 7 * 256; i < 8 * 256; i++) v[i] = 0.01 * randn(rng);
  v.fill(0, 9 * 256 + 64, 9 * 256 + 96);
  return v;
}

/** Largest |x| of v[from .. from+n). */
function amax(v: Float32Array, from: number, n: number): number {
  let m = 0;
  for (let i = from; i < from + n; i++) m = Math.max(m, Math.abs(v[i]!));
  return m;
}

/** Min and max of v[from .. from+n). */
function range(v: Float32Array, from: number, n: number): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = from; i < from + n; i++) {
    lo = Math.min(lo, v[i]!);
    hi = Math.max(hi, v[i]!);
  }
  return [lo, hi];
}

/**
 * One quantization step of the element at `i`, from the format definition:
 * the distance between adjacent representable values around it. The 6/8-bit
 * scales of the K-quants add their own granularity (a step of the super-block
 * scale) on top of the sub-block step. `slack` covers the f16 rounding of
 * block scales.
 */
function stepAt(type: GgmlType, v: Float32Array, i: number): number {
  const b32 = i - (i % 32);
  const b256 = i - (i % 256);
  const slack = 1 + 2 ** -9;
  switch (type) {
    case GgmlType.Q4_0:
      return (amax(v, b32, 32) / 8) * slack; // codes −8..7 span ±max
    case GgmlType.Q5_0:
      return (amax(v, b32, 32) / 16) * slack;
    case GgmlType.Q8_0:
      return (amax(v, b32, 32) / 127) * slack;
    case GgmlType.Q4_1:
    case GgmlType.Q5_1: {
      const [lo, hi] = range(v, b32, 32);
      const levels = type === GgmlType.Q4_1 ? 15 : 31;
      return ((hi - lo) / levels) * slack + Math.abs(lo) * 2 ** -11; // m is an f16
    }
    case GgmlType.Q4_K:
    case GgmlType.Q5_K: {
      // Sub-block span covers max and min(0, min); R is the widest span in the super-block.
      const levels = type === GgmlType.Q4_K ? 15 : 31;
      const span = (from: number) => {
        const [lo, hi] = range(v, from, 32);
        return hi - Math.min(0, lo);
      };
      let widest = 0;
      for (let j = 0; j < 8; j++) widest = Math.max(widest, span(b256 + 32 * j));
      return span(b32) / levels + (2 * widest * slack) / (63 * levels);
    }
    case GgmlType.Q6_K: {
      // Sub-blocks of 16 share a signed 8-bit multiple of d = (largest sub-block step) / 127.
      const b16 = i - (i % 16);
      return amax(v, b16, 16) / 32 + ((amax(v, b256, 256) / 32) * slack) / 127;
    }
    default:
      throw new Error(`no step for ${ggmlTypeName(type)}`);
  }
}

const BLOCK_TYPES = [
  GgmlType.Q4_0,
  GgmlType.Q4_1,
  GgmlType.Q5_0,
  GgmlType.Q5_1,
  GgmlType.Q8_0,
  GgmlType.Q4_K,
  GgmlType.Q5_K,
  GgmlType.Q6_K,
];

for (const type of BLOCK_TYPES) {
  Deno.test(`quantize(${ggmlTypeName(type)}) round-trips within one quantization step`, () => {
    for (const seed of [1, 2, 3]) {
      const v = testVector(seed);
      const bytes = quantize(type, v);
      assert.equal(bytes.length, rowBytes(type, v.length));
      const back = dequantize(type, bytes, v.length);
      let worst = 0; // largest error in units of the step
      for (let i = 0; i < v.length; i++) {
        const err = Math.abs(back[i]! - v[i]!);
        const step = stepAt(type, v, i);
        assert.ok(err <= step, `seed ${seed} element ${i}: |${back[i]} − ${v[i]}| > step ${step}`);
        if (step > 0) worst = Math.max(worst, err / step);
      }
      for (let i = 3 * 256; i < 4 * 256; i++) assert.ok(back[i] === 0, `zero element ${i}`);
      assert.ok(worst > 0.2, `errors suspiciously small (${worst} steps)`);
    }
  });
}

Deno.test("quantize(F32) is exact and quantize(F16/BF16) rounds each value to nearest", () => {
  const v = testVector(4);
  assert.deepEqual(dequantize(GgmlType.F32, quantize(GgmlType.F32, v), v.length), v);
  const f16 = dequantize(GgmlType.F16, quantize(GgmlType.F16, v), v.length);
  for (let i = 0; i < v.length; i++) assert.equal(f16[i], Math.f16round(v[i]!), `element ${i}`);
  const bf16 = dequantize(GgmlType.BF16, quantize(GgmlType.BF16, v), v.length);
  for (let i = 0; i < v.length; i++) {
    // 8 significant bits: half an ulp is 2^(exponent − 8).
    const halfUlp = v[i] === 0 ? 0 : 2 ** (Math.floor(Math.log2(Math.abs(v[i]!))) - 8);
    assert.ok(Math.abs(bf16[i]! - v[i]!) <= halfUlp, `element ${i}`);
  }
});

Deno.test("quantize() maps the largest-magnitude element of a Q4_0/Q8_0 block exactly", () => {
  const v = new Float32Array(32).map((_, i) => (i - 10) / 4); // max |x| = 5.25 at i = 31
  const q8 = dequantize(GgmlType.Q8_0, quantize(GgmlType.Q8_0, v), 32);
  assert.equal(q8[31], Math.f16round(5.25 / 127) * 127);
  const q4 = dequantize(GgmlType.Q4_0, quantize(GgmlType.Q4_0, v), 32);
  assert.equal(q4[31], 5.25); // d = 5.25 / −8 = −0.65625 is an exact f16; code 0 gives −8 d
});

Deno.test("quantize() rejects partial blocks, non-finite values and scales beyond f16", () => {
  assert.throws(() => quantize(GgmlType.Q4_K, new Float32Array(255)), RangeError);
  assert.throws(
    () => quantize(GgmlType.Q8_0, new Float32Array(32).fill(NaN)),
    /Cannot quantize to Q8_0: element 0 is NaN/,
  );
  assert.throws(
    () => quantize(GgmlType.Q8_0, new Float32Array(64).fill(1e7, 32)),
    /Cannot quantize Q8_0 block 1: scale .* is beyond the f16 range/,
  );
});
