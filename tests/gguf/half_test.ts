import assert from "node:assert/strict";
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from "../../src/gguf/half.ts";
import { makeRng } from "../../src/reference/prng.ts";

const isF16Nan = (h: number) => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
const isBf16Nan = (h: number) => (h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0;

Deno.test("f16ToF32() decodes known bit patterns", () => {
  assert.equal(f16ToF32(0x0000), 0);
  assert.ok(Object.is(f16ToF32(0x8000), -0));
  assert.equal(f16ToF32(0x3c00), 1);
  assert.equal(f16ToF32(0xc000), -2);
  assert.equal(f16ToF32(0x3555), 1365 / 4096); // (1024 + 341) × 2^(13 − 25)
  assert.equal(f16ToF32(0x7bff), 65504); // (2 − 2^-10) × 2^15
  assert.equal(f16ToF32(0x0001), 2 ** -24); // smallest subnormal
  assert.equal(f16ToF32(0x03ff), 1023 * 2 ** -24); // largest subnormal
  assert.equal(f16ToF32(0x0400), 2 ** -14); // smallest normal
  assert.equal(f16ToF32(0x7c00), Infinity);
  assert.equal(f16ToF32(0xfc00), -Infinity);
  assert.ok(Number.isNaN(f16ToF32(0x7e00)));
});

Deno.test("f16ToF32() agrees with the platform's Math.f16round on all 65536 patterns", () => {
  const platform = new Float16Array(
    new Uint16Array(Array.from({ length: 65536 }, (_, i) => i)).buffer,
  );
  for (let h = 0; h < 65536; h++) {
    const expected = platform[h]!;
    const actual = f16ToF32(h);
    if (Number.isNaN(expected)) assert.ok(Number.isNaN(actual), `0x${h.toString(16)}`);
    else assert.ok(Object.is(actual, expected), `0x${h.toString(16)}: ${actual} vs ${expected}`);
  }
});

Deno.test("f32ToF16() round-trips every one of the 65536 half patterns", () => {
  for (let h = 0; h < 65536; h++) {
    const back = f32ToF16(f16ToF32(h));
    if (isF16Nan(h)) {
      assert.ok(isF16Nan(back), `NaN 0x${h.toString(16)} became 0x${back.toString(16)}`);
    } else assert.equal(back, h, `0x${h.toString(16)}`);
  }
});

Deno.test("f32ToF16() rounds to nearest, ties to even, with overflow to infinity", () => {
  assert.equal(f32ToF16(1 + 2 ** -11), 0x3c00); // tie between 0x3C00 and 0x3C01: even wins
  assert.equal(f32ToF16(1 + 3 * 2 ** -11), 0x3c02); // tie between 0x3C01 and 0x3C02
  assert.equal(f32ToF16(1 + 2 ** -11 + 2 ** -20), 0x3c01); // just above the tie
  assert.equal(f32ToF16(2 - 2 ** -11), 0x4000); // tie between 0x3FFF and 2.0: even is 2.0
  assert.equal(f32ToF16(65504), 0x7bff);
  assert.equal(f32ToF16(65519), 0x7bff); // below the midpoint 65520
  assert.equal(f32ToF16(65520), 0x7c00); // midpoint to the next (infinite) step: even is inf
  assert.equal(f32ToF16(-1e9), 0xfc00);
  assert.equal(f32ToF16(2 ** -25), 0x0000); // half of the smallest subnormal: tie to 0
  assert.equal(f32ToF16(-(2 ** -25)), 0x8000);
  assert.equal(f32ToF16(2 ** -25 * 1.0001), 0x0001);
  assert.equal(f32ToF16(3 * 2 ** -25), 0x0002); // 1.5 subnormal steps: tie to even 2
  assert.equal(f32ToF16(2 ** -14 - 2 ** -25), 0x0400); // top subnormal tie rounds into the normals
  assert.equal(f32ToF16(1e-10), 0x0000);
  assert.equal(f32ToF16(-0), 0x8000);
  assert.equal(f32ToF16(Infinity), 0x7c00);
  assert.ok(isF16Nan(f32ToF16(NaN)));
});

Deno.test("f32ToF16() matches Math.f16round on 200000 random float32 values", () => {
  const rng = makeRng(11);
  const f = new Float32Array(1);
  const bits = new Uint32Array(f.buffer);
  for (let i = 0; i < 200000; i++) {
    // Random exponents around the half range, random mantissas and signs.
    bits[0] = (((rng() * 2 ** 32) >>> 0) & 0x807fffff) | ((96 + Math.floor(rng() * 50)) << 23);
    const x = f[0]!;
    assert.equal(f16ToF32(f32ToF16(x)), Math.f16round(x), `x = ${x}`);
  }
});

Deno.test("bf16ToF32() decodes known bit patterns", () => {
  assert.equal(bf16ToF32(0x3f80), 1);
  assert.equal(bf16ToF32(0xc040), -3);
  assert.equal(bf16ToF32(0x7f80), Infinity);
  assert.equal(bf16ToF32(0x0001), 2 ** -133); // smallest subnormal: 2^-126 × 2^-7
  assert.ok(Number.isNaN(bf16ToF32(0x7fc0)));
});

Deno.test("f32ToBf16() round-trips every one of the 65536 bf16 patterns", () => {
  for (let h = 0; h < 65536; h++) {
    const back = f32ToBf16(bf16ToF32(h));
    if (isBf16Nan(h)) assert.ok(isBf16Nan(back), `NaN 0x${h.toString(16)}`);
    else assert.equal(back, h, `0x${h.toString(16)}`);
  }
});

Deno.test("f32ToBf16() rounds to nearest, ties to even", () => {
  assert.equal(f32ToBf16(1 + 2 ** -8), 0x3f80); // tie: 0x3F80 is even
  assert.equal(f32ToBf16(1 + 3 * 2 ** -8), 0x3f82); // tie between 0x3F81 and 0x3F82
  assert.equal(f32ToBf16(1 + 2 ** -8 + 2 ** -20), 0x3f81);
  assert.equal(f32ToBf16(-(1 + 2 ** -8 + 2 ** -20)), 0xbf81);
  assert.equal(f32ToBf16(3.4028234663852886e38), 0x7f80); // f32 max rounds up to infinity
  assert.ok(isBf16Nan(f32ToBf16(NaN)));
});
