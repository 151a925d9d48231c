/**
 * CPU dequantization of every tensor type d2o reads: what the weight upload
 * uses for small f32 tensors (norms, biases), and the reference the WGSL
 * dequantizers and quantized mat-vec kernels are tested against. Block layouts
 * are described in `docs/gguf-format.md` §3 and in the per-family
 * modules under `./dequant/`.
 *
 * @module
 */

import { GgmlType, ggmlTypeInfo, rowBytes } from "./ggml_type.ts";
import { dequantizeBf16, dequantizeF16, dequantizeF32 } from "./dequant/floats.ts";
import {
  dequantizeQ4_0,
  dequantizeQ4_1,
  dequantizeQ5_0,
  dequantizeQ5_1,
  dequantizeQ8_0,
} from "./dequant/legacy.ts";
import { dequantizeQ4_K, dequantizeQ5_K, dequantizeQ6_K } from "./dequant/k_quants.ts";

/**
 * Decodes the first `count` elements of tensor data into f32.
 *
 * @param type the tensor's element type
 * @param bytes the packed data, starting at the first block; any byteOffset or alignment
 * @param count elements to decode, a multiple of the type's block size
 * @param out optional destination of at least `count` elements
 * @returns `out` (or a new array of `count` elements) holding the values
 * @throws {RangeError} if `count` is not a whole number of blocks, `bytes` is
 * too short, `out` is too small, or the type is not supported
 * @example Decode one Q8_0 block
 * ```ts
 * import assert from "node:assert/strict";
 * import { dequantize } from "./dequantize.ts";
 * import { GgmlType } from "./ggml_type.ts";
 * const block = new Uint8Array(34);
 * block[1] = 0x40; // d = 2.0 (f16 0x4000)
 * block[2] = 0xff; // int8 −1
 * assert.equal(dequantize(GgmlType.Q8_0, block, 32)[0], -2);
 * ```
 */
export function dequantize(
  type: GgmlType,
  bytes: Uint8Array,
  count: number,
  out?: Float32Array,
): Float32Array {
  const { name, blockElems } = ggmlTypeInfo(type);
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new RangeError(`Cannot dequantize ${name}: count ${count} is not a non-negative integer`);
  }
  const needed = rowBytes(type, count);
  if (bytes.byteLength < needed) {
    throw new RangeError(
      `Cannot dequantize ${count} ${name} elements: need ${needed} bytes, got ${bytes.byteLength}`,
    );
  }
  const dst = out ?? new Float32Array(count);
  if (dst.length < count) {
    throw new RangeError(
      `Cannot dequantize ${count} ${name} elements: output holds only ${dst.length}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, needed);
  const blocks = count / blockElems;
  switch (type) {
    case GgmlType.F32:
      dequantizeF32(view, count, dst);
      break;
    case GgmlType.F16:
      dequantizeF16(view, count, dst);
      break;
    case GgmlType.BF16:
      dequantizeBf16(view, count, dst);
      break;
    case GgmlType.Q4_0:
      dequantizeQ4_0(view, blocks, dst);
      break;
    case GgmlType.Q4_1:
      dequantizeQ4_1(view, blocks, dst);
      break;
    case GgmlType.Q5_0:
      dequantizeQ5_0(view, blocks, dst);
      break;
    case GgmlType.Q5_1:
      dequantizeQ5_1(view, blocks, dst);
      break;
    case GgmlType.Q8_0:
      dequantizeQ8_0(view, blocks, dst);
      break;
    case GgmlType.Q4_K:
      dequantizeQ4_K(bytes, blocks, dst);
      break;
    case GgmlType.Q5_K:
      dequantizeQ5_K(bytes, blocks, dst);
      break;
    case GgmlType.Q6_K:
      dequantizeQ6_K(bytes, blocks, dst);
      break;
  }
  return dst;
}
