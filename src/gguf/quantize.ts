/**
 * Quantization of f32 values into every tensor type d2o reads. Simple and
 * exact-by-construction rather than quality-optimal: it feeds the fixture
 * models and the round-trip tests of the dequantizers and GPU kernels.
 *
 * @module
 */

import { GgmlType, ggmlTypeInfo, rowBytes } from "./ggml_type.ts";
import { quantizeBf16, quantizeF16, quantizeF32 } from "./quant/floats.ts";
import { quantizeQ4_K, quantizeQ5_K, quantizeQ6_K } from "./quant/k_quants.ts";
import {
  quantizeQ4_0,
  quantizeQ4_1,
  quantizeQ5_0,
  quantizeQ5_1,
  quantizeQ8_0,
} from "./quant/legacy.ts";

/**
 * Encodes values as packed blocks of a tensor type.
 *
 * @param type the target type (any of the 11 supported)
 * @param values the elements, a multiple of the type's block size, all finite
 * @returns the packed bytes (`rowBytes(type, values.length)` of them)
 * @throws {RangeError} if the length is not a whole number of blocks, a value
 * is not finite, or a block's scale is beyond the f16 range
 * @example Quantize one Q8_0 block
 * ```ts
 * import assert from "node:assert/strict";
 * import { quantize } from "./quantize.ts";
 * import { dequantize } from "./dequantize.ts";
 * import { GgmlType } from "./ggml_type.ts";
 * const bytes = quantize(GgmlType.Q8_0, new Float32Array(32).fill(0.5));
 * assert.equal(bytes.length, 34); // one block: f16 scale + 32 int8
 * assert.ok(Math.abs(dequantize(GgmlType.Q8_0, bytes, 32)[31]! - 0.5) < 0.5 / 127); // within a step
 * ```
 */
export function quantize(type: GgmlType, values: Float32Array): Uint8Array {
  const { name } = ggmlTypeInfo(type);
  const out = new Uint8Array(rowBytes(type, values.length));
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      throw new RangeError(`Cannot quantize to ${name}: element ${i} is ${values[i]}`);
    }
  }
  switch (type) {
    case GgmlType.F32:
      quantizeF32(values, out);
      break;
    case GgmlType.F16:
      quantizeF16(values, out);
      break;
    case GgmlType.BF16:
      quantizeBf16(values, out);
      break;
    case GgmlType.Q4_0:
      quantizeQ4_0(values, out);
      break;
    case GgmlType.Q4_1:
      quantizeQ4_1(values, out);
      break;
    case GgmlType.Q5_0:
      quantizeQ5_0(values, out);
      break;
    case GgmlType.Q5_1:
      quantizeQ5_1(values, out);
      break;
    case GgmlType.Q8_0:
      quantizeQ8_0(values, out);
      break;
    case GgmlType.Q4_K:
      quantizeQ4_K(values, out);
      break;
    case GgmlType.Q5_K:
      quantizeQ5_K(values, out);
      break;
    case GgmlType.Q6_K:
      quantizeQ6_K(values, out);
      break;
  }
  return out;
}
