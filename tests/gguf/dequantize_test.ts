import assert from "node:assert/strict";
import { GgmlType } from "../../src/gguf/ggml_type.ts";
import { dequantize } from "../../src/gguf/dequantize.ts";

/** Copies `bytes` to byte offset 1 of a fresh buffer, so nothing is aligned. */
function misaligned(bytes: number[] | Uint8Array): Uint8Array {
  const buf = new Uint8Array(bytes.length + 1);
  buf.set(bytes, 1);
  return buf.subarray(1);
}

/** Asserts one element, treating 0 and −0 as equal. */
function assertElement(actual: Float32Array, i: number, expected: number): void {
  assert.ok(actual[i] === expected, `element ${i}: got ${actual[i]}, expected ${expected}`);
}

/** Asserts selected elements: `expected` maps element index → value. */
function assertElements(actual: Float32Array, expected: Record<number, number>): void {
  for (const [i, v] of Object.entries(expected)) assertElement(actual, Number(i), v);
}

Deno.test("dequantize() reads F32, F16 and BF16 little-endian values", () => {
  // 1.5 = 0x3FC00000, -0.25 = 0xBE800000
  const f32 = dequantize(GgmlType.F32, misaligned([0, 0, 0xc0, 0x3f, 0, 0, 0x80, 0xbe]), 2);
  assert.deepEqual([...f32], [1.5, -0.25]);
  // f16: 1.0 = 0x3C00, -2.0 = 0xC000, 2^-24 = 0x0001
  const f16 = dequantize(GgmlType.F16, misaligned([0, 0x3c, 0, 0xc0, 1, 0]), 3);
  assert.deepEqual([...f16], [1, -2, 2 ** -24]);
  // bf16: 1.0 = 0x3F80, -3.0 = 0xC040
  const bf16 = dequantize(GgmlType.BF16, misaligned([0x80, 0x3f, 0x40, 0xc0]), 2);
  assert.deepEqual([...bf16], [1, -3]);
});

Deno.test("dequantize() decodes Q4_0 nibbles as (code − 8) × d, low nibbles first", () => {
  const block0 = [0x00, 0x3c, ...new Array(16).fill(0x88)]; // d = 1.0, all codes 8 → 0
  block0[2] = 0xf0; // qs[0]: element 0 code 0, element 16 code 15
  block0[3] = 0x5a; // qs[1]: element 1 code 10, element 17 code 5
  const block1 = [0x00, 0xb4, ...new Array(16).fill(0x88)]; // d = −0.25 (0xB400)
  block1[2 + 15] = 0x1e; // qs[15]: element 15 code 14, element 31 code 1
  const out = dequantize(GgmlType.Q4_0, misaligned([...block0, ...block1]), 64);
  assertElements(out, {
    0: -8, // (0 − 8) × 1
    16: 7, // (15 − 8) × 1
    1: 2, // (10 − 8) × 1
    17: -3, // (5 − 8) × 1
    2: 0,
    [32 + 15]: -1.5, // (14 − 8) × −0.25
    [32 + 31]: 1.75, // (1 − 8) × −0.25
    [32 + 0]: 0,
  });
});

Deno.test("dequantize() decodes Q4_1 as code × d + m", () => {
  const block = [0x00, 0x38, 0x00, 0xbc, ...new Array(16).fill(0)]; // d = 0.5, m = −1
  block[4] = 0x3c; // element 0 code 12, element 16 code 3
  block[4 + 15] = 0xf0; // element 15 code 0, element 31 code 15
  const out = dequantize(GgmlType.Q4_1, misaligned(block), 32);
  assertElements(out, {
    0: 5, // 12 × 0.5 − 1
    16: 0.5, // 3 × 0.5 − 1
    15: -1, // 0 × 0.5 − 1
    31: 6.5, // 15 × 0.5 − 1
    7: -1,
  });
});

Deno.test("dequantize() decodes Q5_0 with bit j of qh as the fifth bit of element j", () => {
  // d = 0.5; qh = 0x80020001 (bits 0, 17, 31) stored little-endian at bytes 2..5
  const block = [0x00, 0x38, 0x01, 0x00, 0x02, 0x80, ...new Array(16).fill(0)];
  block[6] = 0x21; // element 0 low 1, element 16 low 2
  block[7] = 0x43; // element 1 low 3, element 17 low 4
  block[6 + 15] = 0xf0; // element 15 low 0, element 31 low 15
  const out = dequantize(GgmlType.Q5_0, misaligned(block), 32);
  assertElements(out, {
    0: 0.5, // code 1 + 16 = 17 → (17 − 16) × 0.5
    16: -7, // code 2 (bit 16 clear) → (2 − 16) × 0.5
    1: -6.5, // code 3 → (3 − 16) × 0.5
    17: 2, // code 4 + 16 = 20 → 4 × 0.5
    15: -8, // code 0 → −16 × 0.5
    31: 7.5, // code 15 + 16 = 31 → 15 × 0.5
    5: -8,
  });
});

Deno.test("dequantize() decodes Q5_1 as code × d + m with the fifth bits from qh", () => {
  // d = 0.25 (0x3400), m = 2 (0x4000), qh = 0x00010002 (bits 1 and 16)
  const block = [0x00, 0x34, 0x00, 0x40, 0x02, 0x00, 0x01, 0x00, ...new Array(16).fill(0)];
  block[8] = 0x9f; // element 0 low 15, element 16 low 9
  const out = dequantize(GgmlType.Q5_1, misaligned(block), 32);
  assertElements(out, {
    0: 5.75, // code 15 → 15 × 0.25 + 2
    16: 8.25, // code 9 + 16 = 25 → 25 × 0.25 + 2
    1: 6, // code 0 + 16 → 16 × 0.25 + 2
    17: 2, // code 0 → 2
  });
});

Deno.test("dequantize() decodes Q8_0 as int8 × d", () => {
  const block = [0x00, 0x40, ...new Array(32).fill(0)]; // d = 2.0 (0x4000)
  block[2] = 0xff; // −1
  block[3] = 0x7f; // 127
  block[4] = 0x80; // −128
  block[2 + 31] = 0x05;
  const out = dequantize(GgmlType.Q8_0, misaligned(block), 32);
  assertElements(out, { 0: -2, 1: 254, 2: -256, 31: 10, 3: 0 });
});

// Q4_K/Q5_K header shared by the next two tests: d = 1.0 (0x3C00), dmin = 0.5 (0x3800),
// sub-block scales sc = [1, 2, 3, 4, 17, 33, 50, 63] and mins mn = [0, 1, 2, 3, 20, 40, 5, 63].
const SC = [1, 2, 3, 4, 17, 33, 50, 63];
const MN = [0, 1, 2, 3, 20, 40, 5, 63];
// deno-fmt-ignore
const K_HEADER = [
  0x00, 0x3c, 0x00, 0x38,
  // bytes 0..3: sc[0..3] | (sc[4..7] >> 4) << 6 = 1|1<<6, 2|2<<6, 3|3<<6, 4|3<<6
  0x41, 0x82, 0xc3, 0xc4,
  // bytes 4..7: mn[0..3] | (mn[4..7] >> 4) << 6 = 0|1<<6, 1|2<<6, 2|0<<6, 3|3<<6
  0x40, 0x81, 0x02, 0xc3,
  // bytes 8..11: (sc[4..7] & 15) | (mn[4..7] & 15) << 4 = 1|4<<4, 1|8<<4, 2|5<<4, 15|15<<4
  0x41, 0x81, 0x52, 0xff,
];

Deno.test("dequantize() decodes Q4_K with 6-bit scales of sub-blocks 4..7 from split bits", () => {
  const block = [...K_HEADER, ...new Array(128).fill(0)];
  const qs = 16;
  block[qs + 0] = 0x7a; // group 0, l 0: element 0 code 10 (sub 0), element 32 code 7 (sub 1)
  block[qs + 64 + 5] = 0x3c; // group 2, l 5: element 133 code 12 (sub 4), element 165 code 3 (sub 5)
  block[qs + 96 + 31] = 0xf1; // group 3, l 31: element 223 code 1 (sub 6), element 255 code 15 (sub 7)
  const out = dequantize(GgmlType.Q4_K, misaligned(block), 256);
  const set: Record<number, number> = {
    0: 1 * 1 * 10 - 0.5 * 0,
    32: 1 * 2 * 7 - 0.5 * 1,
    133: 1 * 17 * 12 - 0.5 * 20,
    165: 1 * 33 * 3 - 0.5 * 40,
    223: 1 * 50 * 1 - 0.5 * 5,
    255: 1 * 63 * 15 - 0.5 * 63,
  };
  assertElements(out, set);
  for (let e = 0; e < 256; e++) {
    // Every other element has code 0, leaving −dmin × mn of its sub-block ⌊e/32⌋.
    if (!(e in set)) assertElement(out, e, -0.5 * MN[e >> 5]!);
  }
});

Deno.test("dequantize() decodes Q5_K fifth bits: bit 2g (low half) and 2g+1 (high half) of qh[l]", () => {
  const block = [...K_HEADER, ...new Array(32 + 128).fill(0)];
  const qh = 16;
  const qs = 48;
  block[qh + 3] = 0xa5; // bits 0, 2, 5, 7: elements 3, 64+3, 128+32+3, 192+32+3
  block[qs + 32 + 3] = 0x21; // group 1, l 3: element 67 low nibble 1, element 99 low nibble 2
  const out = dequantize(GgmlType.Q5_K, misaligned(block), 256);
  assertElements(out, {
    3: 1 * SC[0]! * 16 - 0.5 * MN[0]!, // code 0 + 16
    35: 1 * SC[1]! * 0 - 0.5 * MN[1]!, // bit 1 clear
    67: 1 * SC[2]! * 17 - 0.5 * MN[2]!, // code 1 + 16 (bit 2)
    99: 1 * SC[3]! * 2 - 0.5 * MN[3]!, // code 2, bit 3 clear
    131: -0.5 * MN[4]!, // bit 4 clear
    163: 1 * SC[5]! * 16 - 0.5 * MN[5]!, // bit 5
    195: -0.5 * MN[6]!, // bit 6 clear
    227: 1 * SC[7]! * 16 - 0.5 * MN[7]!, // bit 7
    4: -0.5 * MN[0]!,
  });
  assert.equal(out[227], 976.5);
});

Deno.test("dequantize() decodes Q6_K with signed scales and 2-bit high parts from qh", () => {
  const block = new Array(210).fill(0);
  const ql = 0;
  const qh = 128;
  const sc = [1, -1, 2, -2, 3, -3, 4, -4, 5, -5, 6, -6, 7, -7, 127, -128];
  sc.forEach((s, k) => block[192 + k] = s & 0xff);
  block[208] = 0x00;
  block[209] = 0x38; // d = 0.5
  // Half 0, l 5 (t = 0): ql[5] = 0x9A, ql[37] = 0, qh[5] = 0xE4 = bit pairs 0,1,2,3 (low to high).
  block[ql + 5] = 0x9a;
  block[qh + 5] = 0xe4;
  // Half 1, l 20 (t = 1): ql[64+52] = 0x3F, ql[64+20] = 0, qh[32+20] = 0x70 = pairs 0,0,3,1.
  block[ql + 64 + 52] = 0x3f;
  block[qh + 32 + 20] = 0x70;
  const out = dequantize(GgmlType.Q6_K, misaligned(block), 256);
  const set: Record<number, number> = {
    5: 0.5 * 1 * (10 + 16 * 0 - 32), // ql[5] low 0xA, pair 0, scale 0
    37: 0.5 * 2 * (0 + 16 * 1 - 32), // ql[37] low 0, pair 1, scale 2
    69: 0.5 * 3 * (9 + 16 * 2 - 32), // ql[5] high 9, pair 2, scale 4
    101: 0.5 * 4 * (0 + 16 * 3 - 32), // ql[37] high 0, pair 3, scale 6
    148: 0.5 * -5 * (0 + 0 - 32), // ql[84] low 0, pair 0, scale 8 + 1
    180: 0.5 * -6 * (15 + 0 - 32), // ql[116] low 15, pair 0, scale 8 + 1 + 2
    212: 0.5 * -7 * (0 + 16 * 3 - 32), // ql[84] high 0, pair 3, scale 8 + 1 + 4
    244: 0.5 * -128 * (3 + 16 * 1 - 32), // ql[116] high 3, pair 1, scale 8 + 1 + 6
  };
  assertElements(out, set);
  for (let e = 0; e < 256; e++) {
    // Every other element has code 0: d × scale[⌊e/16⌋] × −32.
    if (!(e in set)) assertElement(out, e, 0.5 * sc[e >> 4]! * -32);
  }
  assert.equal(out[244], 832);
});

Deno.test("dequantize() writes into a given output array and returns it", () => {
  const out = new Float32Array(40).fill(9);
  const block = [0x00, 0x3c, ...new Array(32).fill(1)]; // Q8_0, d = 1, all ones
  assert.equal(dequantize(GgmlType.Q8_0, new Uint8Array(block), 32, out), out);
  assert.deepEqual([...out.subarray(0, 32)], new Array(32).fill(1));
  assert.equal(out[32], 9);
});

Deno.test("dequantize() rejects partial blocks, short data and small outputs", () => {
  assert.throws(() => dequantize(GgmlType.Q4_0, new Uint8Array(18), 31), RangeError);
  assert.throws(
    () => dequantize(GgmlType.Q4_K, new Uint8Array(143), 256),
    /need 144 bytes, got 143/,
  );
  assert.throws(
    () => dequantize(GgmlType.F32, new Uint8Array(16), 4, new Float32Array(3)),
    /output holds only 3/,
  );
});
