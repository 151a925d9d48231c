/**
 * ggml tensor types: ids as stored in GGUF tensor descriptors, and the block
 * geometry of the ones this tool can read (see `docs/gguf-format.md` §2).
 *
 * @module
 */

/** ggml tensor type ids supported by d2o. Other ids are rejected by the reader. */
export enum GgmlType {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  BF16 = 30,
}

/** Block geometry of one tensor type. */
export interface GgmlTypeInfo {
  /** Display name as llama.cpp prints it, e.g. `"Q4_K"`. */
  readonly name: string;
  /** Elements per block (1 for plain float types). */
  readonly blockElems: number;
  /** Bytes per block. */
  readonly blockBytes: number;
}

/** Geometry of every supported type, keyed by id. */
export const GGML_TYPES: ReadonlyMap<GgmlType, GgmlTypeInfo> = new Map([
  [GgmlType.F32, { name: "F32", blockElems: 1, blockBytes: 4 }],
  [GgmlType.F16, { name: "F16", blockElems: 1, blockBytes: 2 }],
  [GgmlType.BF16, { name: "BF16", blockElems: 1, blockBytes: 2 }],
  [GgmlType.Q4_0, { name: "Q4_0", blockElems: 32, blockBytes: 18 }],
  [GgmlType.Q4_1, { name: "Q4_1", blockElems: 32, blockBytes: 20 }],
  [GgmlType.Q5_0, { name: "Q5_0", blockElems: 32, blockBytes: 22 }],
  [GgmlType.Q5_1, { name: "Q5_1", blockElems: 32, blockBytes: 24 }],
  [GgmlType.Q8_0, { name: "Q8_0", blockElems: 32, blockBytes: 34 }],
  [GgmlType.Q4_K, { name: "Q4_K", blockElems: 256, blockBytes: 144 }],
  [GgmlType.Q5_K, { name: "Q5_K", blockElems: 256, blockBytes: 176 }],
  [GgmlType.Q6_K, { name: "Q6_K", blockElems: 256, blockBytes: 210 }],
]);

/** Names of ggml type ids d2o cannot read, for clear error messages. */
const KNOWN_UNSUPPORTED: ReadonlyMap<number, string> = new Map([
  [9, "Q8_1"],
  [10, "Q2_K"],
  [11, "Q3_K"],
  [15, "Q8_K"],
  [16, "IQ2_XXS"],
  [17, "IQ2_XS"],
  [18, "IQ3_XXS"],
  [19, "IQ1_S"],
  [20, "IQ4_NL"],
  [21, "IQ3_S"],
  [22, "IQ2_S"],
  [23, "IQ4_XS"],
  [24, "I8"],
  [25, "I16"],
  [26, "I32"],
  [27, "I64"],
  [28, "F64"],
  [29, "IQ1_M"],
  [34, "TQ1_0"],
  [35, "TQ2_0"],
  [39, "MXFP4"],
]);

/**
 * Geometry of a supported type.
 *
 * @param type a supported type id
 * @returns its block geometry
 * @throws {RangeError} if the id is not supported
 */
export function ggmlTypeInfo(type: GgmlType): GgmlTypeInfo {
  const info = GGML_TYPES.get(type);
  if (!info) throw new RangeError(`Cannot use ggml type ${type}: not supported`);
  return info;
}

/** Whether a raw id from a file is a type d2o supports. */
export function isSupportedGgmlType(id: number): id is GgmlType {
  return GGML_TYPES.has(id as GgmlType);
}

/** Display name of any ggml type id, e.g. `"Q2_K"`, or `"type 77"` for an unknown id. */
export function ggmlTypeName(id: number): string {
  return GGML_TYPES.get(id as GgmlType)?.name ?? KNOWN_UNSUPPORTED.get(id) ?? `type ${id}`;
}

/**
 * Bytes taken by one row of `elems` elements of a type.
 *
 * @throws {RangeError} if `elems` is not a multiple of the type's block size
 */
export function rowBytes(type: GgmlType, elems: number): number {
  const { name, blockElems, blockBytes } = ggmlTypeInfo(type);
  if (elems % blockElems !== 0) {
    throw new RangeError(
      `Cannot lay out a ${name} row of ${elems} elements: not a multiple of ${blockElems}`,
    );
  }
  return (elems / blockElems) * blockBytes;
}
