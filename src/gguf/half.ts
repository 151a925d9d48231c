/**
 * Conversions between JavaScript numbers and the 16-bit float formats stored
 * in GGUF files: IEEE binary16 (f16) and bfloat16 (bf16). Both directions
 * round to nearest, ties to even, from the float32 value of the input, as
 * ggml does.
 *
 * @module
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The bits of `x` rounded to float32. */
function f32Bits(x: number): number {
  f32[0] = x;
  return u32[0]!;
}

/**
 * Widens binary16 bits to a number (exact).
 *
 * @param bits the 16-bit pattern, 0..0xFFFF
 * @returns its value; NaN patterns give NaN
 * @example Decode 1.0 and the largest finite half
 * ```ts
 * import assert from "node:assert/strict";
 * import { f16ToF32 } from "./half.ts";
 * assert.equal(f16ToF32(0x3c00), 1);
 * assert.equal(f16ToF32(0x7bff), 65504);
 * ```
 */
export function f16ToF32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

/** Shifts `m` right by `shift` bits, rounding to nearest, ties to even. */
function shiftRoundEven(m: number, shift: number): number {
  const q = m >>> shift;
  const rem = m - q * 2 ** shift;
  const half = 2 ** (shift - 1);
  return rem > half || (rem === half && (q & 1) === 1) ? q + 1 : q;
}

/**
 * Rounds a number to binary16 bits: first to float32, then to nearest half,
 * ties to even. Values beyond the half range become infinity; NaN stays a
 * (quiet) NaN with the sign kept.
 *
 * @param x any number
 * @returns the 16-bit pattern
 * @example Round a tie to even
 * ```ts
 * import assert from "node:assert/strict";
 * import { f32ToF16 } from "./half.ts";
 * assert.equal(f32ToF16(1 + 2 ** -11), 0x3c00);
 * ```
 */
export function f32ToF16(x: number): number {
  const b = f32Bits(x);
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return mant === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mant >>> 13);
  const e = exp - 112; // rebias 127 → 15
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal
    // Subnormal half: value = m × 2^(e − 14 − 10) with the implicit bit made explicit.
    return sign | shiftRoundEven(mant | 0x800000, 14 - e);
  }
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  return sign | ((e << 10) + shiftRoundEven(mant, 13));
}

/**
 * Widens bfloat16 bits to a number (exact).
 *
 * @param bits the 16-bit pattern, 0..0xFFFF
 * @returns its value
 * @example Decode 1.0
 * ```ts
 * import assert from "node:assert/strict";
 * import { bf16ToF32 } from "./half.ts";
 * assert.equal(bf16ToF32(0x3f80), 1);
 * ```
 */
export function bf16ToF32(bits: number): number {
  u32[0] = (bits & 0xffff) << 16;
  return f32[0]!;
}

/**
 * Rounds a number to bfloat16 bits like ggml: first to float32, then to
 * nearest, ties to even (overflow gives infinity); NaN becomes a quiet NaN.
 *
 * @param x any number
 * @returns the 16-bit pattern
 * @example Round 1 + 2^-8 (a tie) down to 1
 * ```ts
 * import assert from "node:assert/strict";
 * import { f32ToBf16 } from "./half.ts";
 * assert.equal(f32ToBf16(1 + 2 ** -8), 0x3f80);
 * ```
 */
export function f32ToBf16(x: number): number {
  const b = f32Bits(x);
  if ((b & 0x7fffffff) > 0x7f800000) return (b >>> 16) | 0x40;
  return (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
}
