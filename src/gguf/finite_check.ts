/**
 * Finds non-finite values (NaN, ±infinity) in a tensor's stored bytes without
 * dequantizing: floats are checked element by element, quantized blocks by
 * their f16 scales (the quants themselves are small integers and always finite).
 *
 * @module
 */

import { cannotRead, GgufFormatError } from "./format_error.ts";
import { GgmlType, ggmlTypeInfo } from "./ggml_type.ts";
import type { GgufFile } from "./reader.ts";
import type { GgufTensorInfo } from "./types.ts";

/** Byte offsets of the f16 scales inside one block, per quantized type. */
const SCALE_OFFSETS: Readonly<Partial<Record<GgmlType, readonly number[]>>> = {
  [GgmlType.Q4_0]: [0],
  [GgmlType.Q4_1]: [0, 2],
  [GgmlType.Q5_0]: [0],
  [GgmlType.Q5_1]: [0, 2],
  [GgmlType.Q8_0]: [0],
  [GgmlType.Q4_K]: [0, 2],
  [GgmlType.Q5_K]: [0, 2],
  [GgmlType.Q6_K]: [208],
};

/**
 * The index of the first element (floats) or block (quantized types) that
 * holds a non-finite value, or −1 when every value is finite.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { firstNonFinite } from "./finite_check.ts";
 * import { GgmlType } from "./ggml_type.ts";
 * const bytes = new Uint8Array(new Float32Array([1, NaN, 2]).buffer);
 * assert.equal(firstNonFinite(GgmlType.F32, bytes), 1);
 * ```
 *
 * @param type the tensor's storage type
 * @param bytes its bytes as stored
 * @returns element or block index, or −1
 */
export function firstNonFinite(type: GgmlType, bytes: Uint8Array): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (type === GgmlType.F32) {
    for (let i = 0; i + 4 <= bytes.length; i += 4) {
      if ((view.getUint32(i, true) & 0x7f800000) === 0x7f800000) return i / 4;
    }
    return -1;
  }
  if (type === GgmlType.F16 || type === GgmlType.BF16) {
    const mask = type === GgmlType.F16 ? 0x7c00 : 0x7f80;
    for (let i = 0; i + 2 <= bytes.length; i += 2) {
      if ((view.getUint16(i, true) & mask) === mask) return i / 2;
    }
    return -1;
  }
  const offsets = SCALE_OFFSETS[type] ?? [];
  const { blockBytes } = ggmlTypeInfo(type);
  for (let b = 0; b * blockBytes + blockBytes <= bytes.length; b++) {
    for (const o of offsets) {
      if ((view.getUint16(b * blockBytes + o, true) & 0x7c00) === 0x7c00) return b;
    }
  }
  return -1;
}

/**
 * The same file, with every tensor read checked for non-finite values (what a
 * model's weights must never hold; the container format itself allows them).
 *
 * @param file a parsed GGUF file
 * @returns a view of it whose `readTensor` throws on a NaN or infinity
 */
export function withFiniteTensors(file: GgufFile): GgufFile {
  return {
    ...file,
    async readTensor(info, into) {
      const bytes = await file.readTensor(info, into);
      checkFinite(file.path, info, bytes, 0);
      return bytes;
    },
    async readTensorPart(info, start, into) {
      const { blockBytes } = ggmlTypeInfo(info.type);
      if (start % blockBytes !== 0) {
        throw new RangeError(
          `Cannot check a piece of tensor "${info.name}" from byte ${start}: ` +
            `not a multiple of its ${blockBytes}-byte blocks`,
        );
      }
      const bytes = await file.readTensorPart(info, start, into);
      checkFinite(file.path, info, bytes, start / blockBytes);
      return bytes;
    },
  };
}

/**
 * Throws when a tensor's bytes hold a NaN or infinity, naming the tensor and where.
 *
 * @param name the file, for the message
 * @param info the tensor
 * @param bytes its bytes, or a piece of them
 * @param first the index of the piece's first element (floats) or block (quantized types)
 * @throws {GgufFormatError} `non_finite` (exit code 3)
 */
function checkFinite(
  name: string | undefined,
  info: GgufTensorInfo,
  bytes: Uint8Array,
  first: number,
): void {
  const found = firstNonFinite(info.type, bytes);
  if (found < 0) return;
  const bad = first + found;
  const float = info.type === GgmlType.F32 || info.type === GgmlType.F16 ||
    info.type === GgmlType.BF16;
  const at = float ? `element ${bad}` : `the scale of block ${bad}`;
  throw new GgufFormatError(
    "non_finite",
    `${
      cannotRead(name)
    }: tensor "${info.name}" holds a NaN or infinity (${at}): the file is corrupt`,
    info.offset + bad * ggmlTypeInfo(info.type).blockBytes,
  );
}
