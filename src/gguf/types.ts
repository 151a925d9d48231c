/**
 * Shapes of a parsed GGUF file: metadata values, tensor descriptors, and the
 * byte source the reader pulls from. Shared by the reader, the writer and
 * everything that consumes a model.
 *
 * @module
 */

import type { GgmlType } from "./ggml_type.ts";

/** GGUF metadata value type tags (docs/gguf-format.md §1.2). */
export enum GgufValueType {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
}

/** An array value: its element tag and its elements (which may themselves be arrays). */
export interface GgufArray {
  /** Tag of every element. */
  readonly elementType: GgufValueType;
  /** The elements, decoded. */
  readonly values: readonly GgufValue[];
}

/**
 * A decoded metadata value. Integers are `number`; u64/i64 values beyond
 * `Number.MAX_SAFE_INTEGER` are `bigint`.
 */
export type GgufValue = number | bigint | boolean | string | GgufArray;

/** One metadata entry with its stored type tag. */
export interface GgufEntry {
  /** Tag as stored in the file. */
  readonly type: GgufValueType;
  /** The decoded value. */
  readonly value: GgufValue;
}

/** One tensor descriptor, with derived sizes and absolute location. */
export interface GgufTensorInfo {
  /** Tensor name, e.g. `blk.3.attn_q.weight`. */
  readonly name: string;
  /** Dimensions, innermost (contiguous) first: ggml's `ne`. */
  readonly dims: readonly number[];
  /** Element type. */
  readonly type: GgmlType;
  /** Offset of the data relative to the data section, as stored. */
  readonly relativeOffset: number;
  /** Absolute byte offset of the data in the file. */
  readonly offset: number;
  /** Number of elements (product of dims). */
  readonly elementCount: number;
  /** Bytes of tensor data. */
  readonly byteSize: number;
}

/** Random-access bytes, e.g. an open file; the reader never loads a whole file. */
export interface ByteSource {
  /** Total size in bytes. */
  readonly size: number;
  /**
   * Reads exactly `length` bytes at `offset` (fewer only at end of source).
   * `into`, when given, receives the bytes and is returned.
   */
  read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array>;
  /** Releases the source. */
  close(): void;
}
