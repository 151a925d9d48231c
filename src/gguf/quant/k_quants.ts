/**
 * Quantizers of the 256-element super-block types Q4_K, Q5_K and Q6_K. A
 * plain, predictable scheme rather than ggml's iterative search:
 *
 * - Q4_K/Q5_K: each 32-element sub-block gets an offset covering its minimum
 *   (min(0, min x), since the stored minimum is subtracted) and a step
 *   covering its range; both are then stored as 6-bit multiples of the f16
 *   super-block scales `dmin` and `d`, rounded *up* so that no element is
 *   clipped. Each element is then off by at most half its sub-block's step.
 * - Q6_K: each 16-element sub-block maps its largest-magnitude element to
 *   code −32; its scale is stored as a signed 8-bit multiple of the f16 `d`,
 *   rounded away from zero.
 *
 * One pass per super-block over typed scratch arrays shared by all calls (no
 * allocation per block): the fixture builder quantizes hundreds of millions
 * of values per full-width model.
 *
 * Layouts: docs/gguf-format.md §3.6, §3.7, §3.10.
 *
 * @module
 */

import { f16ToF32 } from "../half.ts";
import { scaleToF16Up } from "./f16_scale.ts";
import { packKScales } from "./k_scales.ts";
import { roundHalfUp } from "./round.ts";

/** Sub-block steps, offsets and codes of one Q4_K/Q5_K super-block (reused scratch). */
const kScales = new Uint8Array(8);
const kMins = new Uint8Array(8);
const kNeg = new Float64Array(8); // −min(0, min x) per sub-block
const kMax = new Float64Array(8);
const kStep = new Float64Array(8);
/** Codes of the super-block being packed (Q4_K/Q5_K 0..top, Q6_K 0..63). */
const codes = new Uint8Array(256);
/** Q6_K: signed step per 16-element sub-block that maps its extreme to −32. */
const q6Wanted = new Float64Array(16);

/**
 * Quantizes the super-block of `values` at `from` with codes 0..top (15 or
 * 31) into {@linkcode codes}, {@linkcode kScales} and {@linkcode kMins}, and
 * writes f16 `d`, f16 `dmin` and the 12 packed scale bytes at `out[at]`.
 */
function quantizeKBlock(
  values: Float32Array,
  from: number,
  top: number,
  type: string,
  out: Uint8Array,
  at: number,
): void {
  let negMax = 0;
  for (let j = 0; j < 8; j++) {
    let lo = 0;
    let hi = -Infinity;
    const base = from + 32 * j;
    for (let l = 0; l < 32; l++) {
      const x = values[base + l]!;
      if (x < lo) lo = x;
      if (x > hi) hi = x;
    }
    const neg = 0 - lo; // +0, not −0, for a block without negatives
    kNeg[j] = neg;
    kMax[j] = hi;
    if (neg > negMax) negMax = neg;
  }
  const dminBits = scaleToF16Up(negMax / 63, type, from / 256);
  const dmin = f16ToF32(dminBits);
  let stepMax = 0;
  for (let j = 0; j < 8; j++) {
    const m = dmin === 0 ? 0 : Math.min(63, Math.ceil(kNeg[j]! / dmin));
    kMins[j] = m;
    const step = (kMax[j]! + dmin * m) / top;
    kStep[j] = step;
    if (step > stepMax) stepMax = step;
  }
  const dBits = scaleToF16Up(stepMax / 63, type, from / 256);
  const d = f16ToF32(dBits);
  for (let j = 0; j < 8; j++) {
    const sc = d === 0 ? 0 : Math.min(63, Math.ceil(kStep[j]! / d));
    kScales[j] = sc;
    const ds = d * sc;
    const offset = dmin * kMins[j]!;
    const base = from + 32 * j;
    for (let l = 0; l < 32; l++) {
      const q = ds === 0 ? 0 : roundHalfUp((values[base + l]! + offset) / ds);
      codes[32 * j + l] = q < 0 ? 0 : q > top ? top : q;
    }
  }
  out[at] = dBits & 0xff;
  out[at + 1] = dBits >> 8;
  out[at + 2] = dminBits & 0xff;
  out[at + 3] = dminBits >> 8;
  packKScales(kScales, kMins, out, at + 4);
}

/**
 * Writes the low nibbles of the 256 {@linkcode codes}: group g (0..3) packs
 * code 64g + l into the low nibble and code 64g + 32 + l into the high nibble
 * of byte 32g + l.
 */
function writeKNibbles(out: Uint8Array, at: number): void {
  for (let g = 0; g < 4; g++) {
    for (let l = 0; l < 32; l++) {
      const lo = codes[64 * g + l]! & 0x0f;
      const hi = codes[64 * g + 32 + l]! & 0x0f;
      out[at + 32 * g + l] = lo | (hi << 4);
    }
  }
}

/**
 * Q4_K: per super-block f16 `d` and `dmin`, eight 6-bit scales and minimums,
 * 256 four-bit codes; value = d × scale × code − dmin × min.
 *
 * @param values a multiple of 256 elements
 * @param out receives 144 bytes per super-block
 * @throws {RangeError} if a super-block's scale is beyond the f16 range
 */
export function quantizeQ4_K(values: Float32Array, out: Uint8Array): void {
  for (let b = 0; b < values.length / 256; b++) {
    quantizeKBlock(values, 256 * b, 15, "Q4_K", out, 144 * b);
    writeKNibbles(out, 144 * b + 16);
  }
}

/**
 * Q5_K: as Q4_K with 5-bit codes; bit 4 of code 64g + l goes to bit 2g of
 * `qh[l]`, that of code 64g + 32 + l to bit 2g+1.
 *
 * @param values a multiple of 256 elements
 * @param out receives 176 bytes per super-block
 * @throws {RangeError} if a super-block's scale is beyond the f16 range
 */
export function quantizeQ5_K(values: Float32Array, out: Uint8Array): void {
  for (let b = 0; b < values.length / 256; b++) {
    const at = 176 * b;
    quantizeKBlock(values, 256 * b, 31, "Q5_K", out, at);
    for (let l = 0; l < 32; l++) {
      let qh = 0;
      for (let g = 0; g < 4; g++) {
        qh |= ((codes[64 * g + l]! >> 4) & 1) << (2 * g);
        qh |= ((codes[64 * g + 32 + l]! >> 4) & 1) << (2 * g + 1);
      }
      out[at + 16 + l] = qh;
    }
    writeKNibbles(out, at + 48);
  }
}

/**
 * Q6_K: per super-block f16 `d` and sixteen signed 8-bit sub-block scales,
 * 256 six-bit codes; value = d × scale × (code − 32).
 *
 * @param values a multiple of 256 elements
 * @param out receives 210 bytes per super-block
 * @throws {RangeError} if a super-block's scale is beyond the f16 range
 */
export function quantizeQ6_K(values: Float32Array, out: Uint8Array): void {
  for (let b = 0; b < values.length / 256; b++) {
    const at = 210 * b;
    const from = 256 * b;
    let wantedMax = 0;
    for (let k = 0; k < 16; k++) {
      let extreme = 0;
      let magnitude = 0;
      for (let l = 0; l < 16; l++) {
        const x = values[from + 16 * k + l]!;
        const a = Math.abs(x);
        if (a > magnitude) {
          magnitude = a;
          extreme = x;
        }
      }
      q6Wanted[k] = extreme / -32;
      if (magnitude / 32 > wantedMax) wantedMax = magnitude / 32;
    }
    const dBits = scaleToF16Up(wantedMax / 127, "Q6_K", b);
    const d = f16ToF32(dBits);
    for (let k = 0; k < 16; k++) {
      const w = q6Wanted[k]!;
      const sc = d === 0 ? 0 : Math.sign(w) * Math.min(127, Math.ceil(Math.abs(w) / d));
      out[at + 192 + k] = sc & 0xff;
      const ds = d * sc;
      for (let l = 0; l < 16; l++) {
        const q = ds === 0 ? 0 : roundHalfUp(values[from + 16 * k + l]! / ds);
        codes[16 * k + l] = (q < -32 ? -32 : q > 31 ? 31 : q) + 32;
      }
    }
    writeQ6Codes(out, at);
    out[at + 208] = dBits & 0xff;
    out[at + 209] = dBits >> 8;
  }
}

/** Packs the 256 six-bit {@linkcode codes} of a Q6_K super-block: `ql` then `qh`. */
function writeQ6Codes(out: Uint8Array, at: number): void {
  for (let h = 0; h < 2; h++) {
    for (let l = 0; l < 32; l++) {
      const c0 = codes[128 * h + l]!;
      const c1 = codes[128 * h + l + 32]!;
      const c2 = codes[128 * h + l + 64]!;
      const c3 = codes[128 * h + l + 96]!;
      out[at + 64 * h + l] = (c0 & 0x0f) | ((c2 & 0x0f) << 4);
      out[at + 64 * h + l + 32] = (c1 & 0x0f) | ((c3 & 0x0f) << 4);
      out[at + 128 + 32 * h + l] = (c0 >> 4) | ((c1 >> 4) << 2) | ((c2 >> 4) << 4) |
        ((c3 >> 4) << 6);
    }
  }
}
