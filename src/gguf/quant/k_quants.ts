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
 * Layouts: gguf-format.md §3.6, §3.7, §3.10.
 *
 * @module
 */

import { f16ToF32 } from "../half.ts";
import { scaleToF16Up } from "./f16_scale.ts";
import { packKScales } from "./k_scales.ts";

/** Sub-block steps, offsets and codes of one Q4_K/Q5_K super-block. */
interface KBlock {
  dBits: number;
  dminBits: number;
  scales: Uint8Array; // 8 six-bit scales
  mins: Uint8Array; // 8 six-bit minimums
  codes: Uint8Array; // 256 codes, 0..top
}

/** Quantizes super-block `b` of `values` with codes 0..top (15 or 31). */
function quantizeKBlock(values: Float32Array, b: number, top: number, name: string): KBlock {
  const what = `${name} block ${b}`;
  const neg = new Float64Array(8); // −min(0, min x) per sub-block
  const max = new Float64Array(8);
  for (let j = 0; j < 8; j++) {
    let lo = 0;
    let hi = -Infinity;
    for (let l = 0; l < 32; l++) {
      const x = values[256 * b + 32 * j + l]!;
      lo = Math.min(lo, x);
      hi = Math.max(hi, x);
    }
    neg[j] = 0 - lo; // +0, not −0, for a block without negatives
    max[j] = hi;
  }
  const dminBits = scaleToF16Up(Math.max(...neg) / 63, what);
  const dmin = f16ToF32(dminBits);
  const mins = new Uint8Array(8);
  const step = new Float64Array(8);
  for (let j = 0; j < 8; j++) {
    mins[j] = dmin === 0 ? 0 : Math.min(63, Math.ceil(neg[j]! / dmin));
    step[j] = (max[j]! + dmin * mins[j]!) / top;
  }
  const dBits = scaleToF16Up(Math.max(...step) / 63, what);
  const d = f16ToF32(dBits);
  const scales = new Uint8Array(8);
  const codes = new Uint8Array(256);
  for (let j = 0; j < 8; j++) {
    scales[j] = d === 0 ? 0 : Math.min(63, Math.ceil(step[j]! / d));
    const ds = d * scales[j]!;
    const offset = dmin * mins[j]!;
    for (let l = 0; l < 32; l++) {
      const x = values[256 * b + 32 * j + l]!;
      const q = ds === 0 ? 0 : Math.round((x + offset) / ds);
      codes[32 * j + l] = Math.min(top, Math.max(0, q));
    }
  }
  return { dBits, dminBits, scales, mins, codes };
}

/** Writes f16 `d`, f16 `dmin` and the 12 packed scale bytes at `at`. */
function writeKHeader(k: KBlock, out: Uint8Array, at: number): void {
  out[at] = k.dBits & 0xff;
  out[at + 1] = k.dBits >> 8;
  out[at + 2] = k.dminBits & 0xff;
  out[at + 3] = k.dminBits >> 8;
  packKScales(k.scales, k.mins, out, at + 4);
}

/**
 * Writes the low nibbles of 256 codes: group g (0..3) packs code 64g + l into
 * the low nibble and code 64g + 32 + l into the high nibble of byte 32g + l.
 */
function writeKNibbles(codes: Uint8Array, out: Uint8Array, at: number): void {
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
    const k = quantizeKBlock(values, b, 15, "Q4_K");
    writeKHeader(k, out, 144 * b);
    writeKNibbles(k.codes, out, 144 * b + 16);
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
    const k = quantizeKBlock(values, b, 31, "Q5_K");
    writeKHeader(k, out, at);
    for (let l = 0; l < 32; l++) {
      let qh = 0;
      for (let g = 0; g < 4; g++) {
        qh |= ((k.codes[64 * g + l]! >> 4) & 1) << (2 * g);
        qh |= ((k.codes[64 * g + 32 + l]! >> 4) & 1) << (2 * g + 1);
      }
      out[at + 16 + l] = qh;
    }
    writeKNibbles(k.codes, out, at + 48);
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
    const wanted = new Float64Array(16); // signed step that maps the extreme to −32
    for (let k = 0; k < 16; k++) {
      let extreme = 0;
      for (let l = 0; l < 16; l++) {
        const x = values[256 * b + 16 * k + l]!;
        if (Math.abs(x) > Math.abs(extreme)) extreme = x;
      }
      wanted[k] = extreme / -32;
    }
    const dBits = scaleToF16Up(Math.max(...wanted.map(Math.abs)) / 127, `Q6_K block ${b}`);
    const d = f16ToF32(dBits);
    const codes = new Uint8Array(256);
    for (let k = 0; k < 16; k++) {
      const w = wanted[k]!;
      const sc = d === 0 ? 0 : Math.sign(w) * Math.min(127, Math.ceil(Math.abs(w) / d));
      out[at + 192 + k] = sc & 0xff;
      const ds = d * sc;
      for (let l = 0; l < 16; l++) {
        const x = values[256 * b + 16 * k + l]!;
        const q = ds === 0 ? 0 : Math.min(31, Math.max(-32, Math.round(x / ds)));
        codes[16 * k + l] = q + 32;
      }
    }
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
    out[at + 208] = dBits & 0xff;
    out[at + 209] = dBits >> 8;
  }
}
