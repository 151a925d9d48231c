/**
 * Quantizers of the 32-element block types Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0,
 * in the manner of ggml's reference `quantize_row_*_ref`: max-abs scaling for
 * the symmetric types, min/max scaling for the `_1` types. Codes are computed
 * against the stored (f16-rounded) scale, so each element is off by at most
 * half a step, plus at most one step at the clipped end of Q4_0/Q5_0.
 * Layouts: docs/gguf-format.md §3.1–§3.5.
 *
 * @module
 */

import { f16ToF32 } from "../half.ts";
import { scaleToF16 } from "./f16_scale.ts";
import { roundHalfUp } from "./round.ts";

/** Codes of the block being packed, shared by every call (no allocation per block). */
const codes = new Uint8Array(32);

/** The element of largest magnitude in `v[from .. from+n)`, with its sign (the first of ties). */
function signedMaxAbs(v: Float32Array, from: number, n: number): number {
  let best = 0;
  let magnitude = 0;
  for (let i = from; i < from + n; i++) {
    const x = v[i]!;
    const a = x < 0 ? -x : x;
    if (a > magnitude) {
      magnitude = a;
      best = x;
    }
  }
  return best;
}

/** Clamps a rounded value to lo..hi. */
function clampInt(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

/**
 * Symmetric 4/5-bit block: the largest-magnitude element maps to code 0.
 * `bits` is 4 (Q4_0, 18 bytes) or 5 (Q5_0, 22 bytes).
 */
function quantizeSymmetric(values: Float32Array, out: Uint8Array, bits: 4 | 5): void {
  const name = bits === 4 ? "Q4_0" : "Q5_0";
  const size = bits === 4 ? 18 : 22;
  const qsAt = bits === 4 ? 2 : 6;
  const half = 1 << (bits - 1); // 8 or 16
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let b = 0; b < values.length / 32; b++) {
    const at = size * b;
    const dBits = scaleToF16(signedMaxAbs(values, 32 * b, 32) / -half, name, b);
    const d = f16ToF32(dBits);
    const id = d === 0 ? 0 : 1 / d;
    view.setUint16(at, dBits, true);
    for (let j = 0; j < 32; j++) {
      codes[j] = clampInt(Math.floor(values[32 * b + j]! * id + half + 0.5), 0, 2 * half - 1);
    }
    writeNibbles(out, at + qsAt);
    if (bits === 5) view.setUint32(at + 2, fifthBits(), true);
  }
}

/**
 * Affine 4/5-bit block: value = code × d + m with m the block minimum.
 * `bits` is 4 (Q4_1, 20 bytes) or 5 (Q5_1, 24 bytes).
 */
function quantizeAffine(values: Float32Array, out: Uint8Array, bits: 4 | 5): void {
  const name = bits === 4 ? "Q4_1" : "Q5_1";
  const size = bits === 4 ? 20 : 24;
  const qsAt = bits === 4 ? 4 : 8;
  const top = (1 << bits) - 1; // 15 or 31
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let b = 0; b < values.length / 32; b++) {
    const at = size * b;
    let lo = Infinity;
    let hi = -Infinity;
    for (let j = 0; j < 32; j++) {
      lo = Math.min(lo, values[32 * b + j]!);
      hi = Math.max(hi, values[32 * b + j]!);
    }
    const dBits = scaleToF16((hi - lo) / top, name, b);
    const mBits = scaleToF16(lo, name, b);
    const d = f16ToF32(dBits);
    const m = f16ToF32(mBits);
    view.setUint16(at, dBits, true);
    view.setUint16(at + 2, mBits, true);
    for (let j = 0; j < 32; j++) {
      codes[j] = d === 0 ? 0 : clampInt(roundHalfUp((values[32 * b + j]! - m) / d), 0, top);
    }
    writeNibbles(out, at + qsAt);
    if (bits === 5) view.setUint32(at + 4, fifthBits(), true);
  }
}

/** Packs the low 4 bits of the 32 {@linkcode codes}: code j in the low nibble of byte j, j+16 in the high. */
function writeNibbles(out: Uint8Array, at: number): void {
  for (let j = 0; j < 16; j++) out[at + j] = (codes[j]! & 0x0f) | ((codes[j + 16]! & 0x0f) << 4);
}

/** Bit 4 of code j of the {@linkcode codes} as bit j of a u32. */
function fifthBits(): number {
  let qh = 0;
  for (let j = 0; j < 32; j++) qh |= ((codes[j]! >> 4) & 1) << j;
  return qh >>> 0;
}

/**
 * Q4_0: d = (largest-magnitude element) / −8, code = clamp(round(x / d) + 8, 0, 15).
 *
 * @param values a multiple of 32 elements
 * @param out receives 18 bytes per block
 * @throws {RangeError} if a block's scale is beyond the f16 range
 */
export function quantizeQ4_0(values: Float32Array, out: Uint8Array): void {
  quantizeSymmetric(values, out, 4);
}

/**
 * Q5_0: d = (largest-magnitude element) / −16, code = clamp(round(x / d) + 16, 0, 31).
 *
 * @param values a multiple of 32 elements
 * @param out receives 22 bytes per block
 * @throws {RangeError} if a block's scale is beyond the f16 range
 */
export function quantizeQ5_0(values: Float32Array, out: Uint8Array): void {
  quantizeSymmetric(values, out, 5);
}

/**
 * Q4_1: m = block minimum, d = (max − min) / 15, code = round((x − m) / d).
 *
 * @param values a multiple of 32 elements
 * @param out receives 20 bytes per block
 * @throws {RangeError} if a block's scale or minimum is beyond the f16 range
 */
export function quantizeQ4_1(values: Float32Array, out: Uint8Array): void {
  quantizeAffine(values, out, 4);
}

/**
 * Q5_1: m = block minimum, d = (max − min) / 31, code = round((x − m) / d).
 *
 * @param values a multiple of 32 elements
 * @param out receives 24 bytes per block
 * @throws {RangeError} if a block's scale or minimum is beyond the f16 range
 */
export function quantizeQ5_1(values: Float32Array, out: Uint8Array): void {
  quantizeAffine(values, out, 5);
}

/**
 * Q8_0: d = max |x| / 127, code = round(x / d) as int8.
 *
 * @param values a multiple of 32 elements
 * @param out receives 34 bytes per block
 * @throws {RangeError} if a block's scale is beyond the f16 range
 */
export function quantizeQ8_0(values: Float32Array, out: Uint8Array): void {
  for (let b = 0; b < values.length / 32; b++) {
    const at = 34 * b;
    const amax = Math.abs(signedMaxAbs(values, 32 * b, 32));
    const dBits = scaleToF16(amax / 127, "Q8_0", b);
    const d = f16ToF32(dBits);
    const id = d === 0 ? 0 : 1 / d;
    out[at] = dBits & 0xff;
    out[at + 1] = dBits >> 8;
    for (let j = 0; j < 32; j++) {
      out[at + 2 + j] = clampInt(roundHalfUp(values[32 * b + j]! * id), -127, 127) & 0xff;
    }
  }
}
