/**
 * The tensor descriptor table of a GGUF file (docs/gguf-format.md §1.4–1.5):
 * decoding every descriptor and checking shapes, types, alignment, bounds
 * and overlap before anything is allocated for tensor data.
 *
 * @module
 */

import type { Cursor } from "./cursor.ts";
import { ggmlTypeInfo, ggmlTypeName, isSupportedGgmlType } from "./ggml_type.ts";
import type { GgufTensorInfo } from "./types.ts";

/** Most dimensions a GGUF tensor may have. */
export const MAX_DIMS = 4;

/** Fewest bytes one descriptor takes: name length, n_dims, one dim, type, offset. */
export const MIN_DESCRIPTOR_BYTES = 8 + 4 + 8 + 4 + 8;

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const SIGN_BIT = 1n << 63n;

/** A descriptor as read, before the data section start is known. */
interface RawTensor extends Omit<GgufTensorInfo, "offset"> {
  /** Byte offset of the descriptor's name, for messages. */
  readonly nameAt: number;
  /** Byte offset of the descriptor's offset field, for messages. */
  readonly offsetFieldAt: number;
}

/**
 * Reads `count` tensor descriptors at the cursor, then resolves their absolute
 * offsets against the data section (which starts at the aligned end of the
 * table) and checks that every tensor lies inside the file without overlap.
 *
 * @param cursor positioned at the first descriptor
 * @param count number of descriptors
 * @param alignment value of `general.alignment` (or 32)
 * @returns the tensors in file order and the data section offset
 */
export function readTensorTable(
  cursor: Cursor,
  count: number,
  alignment: number,
): { tensors: GgufTensorInfo[]; dataOffset: number } {
  const raw: RawTensor[] = [];
  const names = new Set<string>();
  for (let i = 0; i < count; i++) {
    const descriptor = readDescriptor(cursor, alignment);
    if (names.has(descriptor.name)) {
      cursor.fail(
        "duplicate_tensor",
        descriptor.nameAt,
        `tensor "${descriptor.name}" at byte ${descriptor.nameAt} is described twice`,
      );
    }
    names.add(descriptor.name);
    raw.push(descriptor);
  }
  const dataOffset = alignUp(cursor.pos, alignment);
  const tensors = raw.map((t) => resolve(cursor, t, dataOffset));
  checkOverlap(cursor, raw, tensors);
  return { tensors, dataOffset };
}

/** Rounds `pos` up to a multiple of `alignment`. */
export function alignUp(pos: number, alignment: number): number {
  return pos + (alignment - (pos % alignment)) % alignment;
}

function readDescriptor(cursor: Cursor, alignment: number): RawTensor {
  const nameAt = cursor.pos;
  const name = cursor.string("tensor name");
  const label = `tensor "${name}"`;

  const dimsAt = cursor.pos;
  const nDims = cursor.u32("a tensor dimension count");
  if (nDims === 0 || nDims > MAX_DIMS) {
    cursor.fail(
      "too_many_dims",
      dimsAt,
      `${label} has ${nDims} dimensions at byte ${dimsAt}, expected 1 to ${MAX_DIMS}`,
    );
  }
  const dims: number[] = [];
  let elementCount = 1;
  for (let d = 0; d < nDims; d++) {
    const at = cursor.pos;
    const dim = cursor.u64("a tensor dimension");
    if (dim === 0n || dim >= SIGN_BIT) {
      const shown = dim === 0n ? "0" : `${dim - (1n << 64n)} (as a signed integer)`;
      cursor.fail("bad_dim", at, `${label} has dimension ${d} = ${shown} at byte ${at}`);
    }
    if (dim > MAX_SAFE || elementCount * Number(dim) > Number.MAX_SAFE_INTEGER) {
      cursor.fail(
        "element_overflow",
        at,
        `${label} has more than 2^53 elements (dimension ${d} = ${dim} at byte ${at})`,
      );
    }
    dims.push(Number(dim));
    elementCount *= Number(dim);
  }

  const typeAt = cursor.pos;
  const type = cursor.u32("a tensor type");
  if (!isSupportedGgmlType(type)) {
    cursor.fail(
      "unknown_tensor_type",
      typeAt,
      `${label} at byte ${typeAt} has ${describeType(type)}, which d2o does not support`,
    );
  }
  const { name: typeName, blockElems, blockBytes } = ggmlTypeInfo(type);
  const rowElems = dims[0]!;
  if (rowElems % blockElems !== 0) {
    cursor.fail(
      "bad_row_size",
      dimsAt,
      `${label} has rows of ${rowElems} elements (dimensions at byte ${dimsAt}), not a multiple of the ${typeName} block size ${blockElems}`,
    );
  }
  const byteSize = (rowElems / blockElems) * blockBytes * (elementCount / rowElems);
  if (byteSize > Number.MAX_SAFE_INTEGER) {
    cursor.fail(
      "element_overflow",
      dimsAt,
      `${label} (dimensions at byte ${dimsAt}) takes more than 2^53 bytes`,
    );
  }

  const offsetFieldAt = cursor.pos;
  const relative = cursor.u64("a tensor offset");
  if (relative > MAX_SAFE) {
    cursor.fail(
      "tensor_out_of_file",
      offsetFieldAt,
      `${label} has data offset ${relative} at byte ${offsetFieldAt}, beyond the end of the file`,
    );
  }
  const relativeOffset = Number(relative);
  if (relativeOffset % alignment !== 0) {
    cursor.fail(
      "misaligned_tensor",
      offsetFieldAt,
      `${label} has data offset ${relativeOffset} at byte ${offsetFieldAt}, not a multiple of the alignment ${alignment}`,
    );
  }
  return { name, dims, type, relativeOffset, elementCount, byteSize, nameAt, offsetFieldAt };
}

function resolve(cursor: Cursor, raw: RawTensor, dataOffset: number): GgufTensorInfo {
  const offset = dataOffset + raw.relativeOffset;
  if (offset + raw.byteSize > cursor.fileSize) {
    cursor.fail(
      "tensor_out_of_file",
      raw.offsetFieldAt,
      `tensor "${raw.name}" (offset at byte ${raw.offsetFieldAt}) spans bytes ${offset} to ${
        offset + raw.byteSize
      }, past the end of the file at ${cursor.fileSize}`,
    );
  }
  const { name, dims, type, relativeOffset, elementCount, byteSize } = raw;
  return { name, dims, type, relativeOffset, offset, elementCount, byteSize };
}

function checkOverlap(cursor: Cursor, raw: RawTensor[], tensors: GgufTensorInfo[]): void {
  const order = tensors.map((_, i) => i).sort((a, b) => tensors[a]!.offset - tensors[b]!.offset);
  for (let k = 1; k < order.length; k++) {
    const prev = tensors[order[k - 1]!]!;
    const next = tensors[order[k]!]!;
    if (next.offset < prev.offset + prev.byteSize) {
      cursor.fail(
        "overlapping_tensors",
        raw[order[k]!]!.offsetFieldAt,
        `tensor "${next.name}" (offset at byte ${
          raw[order[k]!]!.offsetFieldAt
        }) starts at byte ${next.offset}, inside tensor "${prev.name}" (bytes ${prev.offset} to ${
          prev.offset + prev.byteSize
        })`,
      );
    }
  }
}

/** `type Q2_K` for a type ggml names, `an unknown type (id 77)` otherwise. */
function describeType(type: number): string {
  const name = ggmlTypeName(type);
  return name === `type ${type}` ? `an unknown type (id ${type})` : `type ${name}`;
}
