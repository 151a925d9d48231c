/**
 * A deliberately permissive GGUF byte builder for reader tests: it writes
 * whatever it is given (unknown types, bad dims, misaligned offsets) and
 * records where every field landed, so tests can corrupt exact fields.
 *
 * @module
 */

import { GGML_TYPES, type GgmlType } from "../../src/gguf/ggml_type.ts";
import { type GgufArray, type GgufValue, GgufValueType } from "../../src/gguf/types.ts";

/** One metadata entry to write: key, type tag, value (numbers may be bigint for 64-bit tags). */
export type RawEntry = readonly [key: string, type: GgufValueType, value: GgufValue];

/** One tensor descriptor to write; `data` (if any) lands at `offset` in the data section. */
export interface RawTensor {
  readonly name: string;
  /** Raw type id (may be unsupported). */
  readonly type: number;
  /** Dimensions, bigint allowed for out-of-range values. */
  readonly dims: readonly (number | bigint)[];
  /** Relative data offset; default: the next aligned free spot. */
  readonly offset?: number | bigint;
  /** Tensor bytes; default: a deterministic pattern of the tensor's size (when it has one). */
  readonly data?: Uint8Array;
}

/** What to build. */
export interface RawGguf {
  readonly version?: number;
  /** Alignment used for padding and default offsets (write `general.alignment` yourself). */
  readonly alignment?: number;
  readonly metadata: readonly RawEntry[];
  readonly tensors: readonly RawTensor[];
}

/** Kind of a u64 field, for fuzzing. */
export type FieldKind = "count" | "length" | "dim" | "offset" | "value";

/** Where things landed in the built file. */
export interface Layout {
  /** Offsets between sections and records: header fields, each entry, each descriptor, data. */
  readonly boundaries: number[];
  /** Every u64 field. */
  readonly fields: { readonly at: number; readonly kind: FieldKind }[];
  /** Offset of each metadata entry's value, by key. */
  readonly valueAt: Map<string, number>;
  /** Offset of each tensor descriptor's fields, by tensor name. */
  readonly tensorAt: Map<string, { name: number; nDims: number; type: number; offset: number }>;
  /** Start of the data section. */
  readonly dataOffset: number;
}

class Bytes {
  #buf = new Uint8Array(256);
  #view = new DataView(this.#buf.buffer);
  length = 0;

  #grow(n: number): number {
    const at = this.length;
    if (at + n > this.#buf.length) {
      const next = new Uint8Array(Math.max(2 * this.#buf.length, at + n));
      next.set(this.#buf);
      this.#buf = next;
      this.#view = new DataView(next.buffer);
    }
    this.length += n;
    return at;
  }

  u8(v: number): void {
    const at = this.#grow(1);
    this.#buf[at] = v;
  }
  u16(v: number): void {
    const at = this.#grow(2);
    this.#view.setUint16(at, v, true);
  }
  u32(v: number): void {
    const at = this.#grow(4);
    this.#view.setUint32(at, v, true);
  }
  u64(v: number | bigint): void {
    const at = this.#grow(8);
    this.#view.setBigUint64(at, BigInt.asUintN(64, BigInt(v)), true);
  }
  raw(b: Uint8Array): void {
    const at = this.#grow(b.length);
    this.#buf.set(b, at);
  }
  f32(v: number): void {
    const at = this.#grow(4);
    this.#view.setFloat32(at, v, true);
  }
  f64(v: number): void {
    const at = this.#grow(8);
    this.#view.setFloat64(at, v, true);
  }
  i8(v: number): void {
    const at = this.#grow(1);
    this.#view.setInt8(at, v);
  }
  i16(v: number): void {
    const at = this.#grow(2);
    this.#view.setInt16(at, v, true);
  }
  i32(v: number): void {
    const at = this.#grow(4);
    this.#view.setInt32(at, v, true);
  }
  bytes(): Uint8Array {
    return this.#buf.slice(0, this.length);
  }
}

const encoder = new TextEncoder();

/** Bytes of tensor data for a supported type and sane dims up to 16 MiB, else undefined. */
export function tensorByteSize(
  type: number,
  dims: readonly (number | bigint)[],
): number | undefined {
  const info = GGML_TYPES.get(type as GgmlType);
  if (!info || dims.length === 0) return undefined;
  const n = dims.map(Number);
  if (n.some((d) => !Number.isSafeInteger(d) || d <= 0) || n[0]! % info.blockElems !== 0) {
    return undefined;
  }
  const size = n.reduce((a, b) => a * b, 1) / info.blockElems * info.blockBytes;
  return size <= 1 << 24 ? size : undefined;
}

/**
 * Builds a GGUF file from a raw description.
 *
 * @returns the bytes and where every field landed
 */
export function buildGguf(spec: RawGguf): { bytes: Uint8Array; layout: Layout } {
  const alignment = spec.alignment ?? 32;
  const out = new Bytes();
  const boundaries: number[] = [];
  const fields: { at: number; kind: FieldKind }[] = [];
  const u64 = (v: number | bigint, kind: FieldKind) => {
    fields.push({ at: out.length, kind });
    out.u64(v);
  };
  const str = (s: string) => {
    const b = encoder.encode(s);
    u64(b.length, "length");
    out.raw(b);
  };
  const value = (type: GgufValueType, v: GgufValue): void => {
    switch (type) {
      case GgufValueType.U8:
        return out.u8(v as number);
      case GgufValueType.I8:
        return out.i8(v as number);
      case GgufValueType.U16:
        return out.u16(v as number);
      case GgufValueType.I16:
        return out.i16(v as number);
      case GgufValueType.U32:
        return out.u32(v as number);
      case GgufValueType.I32:
        return out.i32(v as number);
      case GgufValueType.F32:
        return out.f32(v as number);
      case GgufValueType.F64:
        return out.f64(v as number);
      case GgufValueType.U64:
      case GgufValueType.I64:
        return u64(v as number | bigint, "value");
      case GgufValueType.BOOL:
        return out.u8(v ? 1 : 0);
      case GgufValueType.STRING:
        return str(v as string);
      case GgufValueType.ARRAY: {
        const a = v as GgufArray;
        out.u32(a.elementType);
        u64(a.values.length, "count");
        for (const e of a.values) value(a.elementType, e);
        return;
      }
      default:
        throw new RangeError(`Cannot encode value type ${type}`);
    }
  };

  out.raw(encoder.encode("GGUF"));
  boundaries.push(out.length);
  out.u32(spec.version ?? 3);
  boundaries.push(out.length);
  u64(spec.tensors.length, "count");
  boundaries.push(out.length);
  u64(spec.metadata.length, "count");
  boundaries.push(out.length);

  const valueAt = new Map<string, number>();
  for (const [key, type, v] of spec.metadata) {
    str(key);
    out.u32(type);
    valueAt.set(key, out.length);
    value(type, v);
    boundaries.push(out.length);
  }

  const placed: { offset: number; data: Uint8Array }[] = [];
  const tensorAt = new Map<string, { name: number; nDims: number; type: number; offset: number }>();
  let next = 0;
  for (const t of spec.tensors) {
    const at = { name: out.length, nDims: 0, type: 0, offset: 0 };
    str(t.name);
    at.nDims = out.length;
    out.u32(t.dims.length);
    for (const d of t.dims) u64(d, "dim");
    at.type = out.length;
    out.u32(t.type);
    at.offset = out.length;
    const size = t.data?.length ?? tensorByteSize(t.type, t.dims) ?? 0;
    const offset = t.offset ?? next;
    u64(offset, "offset");
    tensorAt.set(t.name, at);
    boundaries.push(out.length);
    if (typeof offset === "number") {
      next = Math.max(next, alignTo(offset + size, alignment));
      placed.push({ offset, data: t.data ?? pattern(size, placed.length) });
    }
  }

  const dataOffset = alignTo(out.length, alignment);
  while (out.length < dataOffset) out.u8(0);
  boundaries.push(dataOffset);
  const end = placed.reduce((m, p) => Math.max(m, p.offset + p.data.length), 0);
  const bytes = new Uint8Array(dataOffset + end);
  bytes.set(out.bytes());
  for (const p of placed) {
    bytes.set(p.data, dataOffset + p.offset);
    boundaries.push(dataOffset + p.offset, dataOffset + p.offset + p.data.length);
  }
  const sorted = [...new Set(boundaries)].sort((a, b) => a - b);
  return { bytes, layout: { boundaries: sorted, fields, valueAt, tensorAt, dataOffset } };
}

/** Writes a u64 into `bytes` at `at`. */
export function setU64(bytes: Uint8Array, at: number, v: number | bigint): void {
  new DataView(bytes.buffer, bytes.byteOffset).setBigUint64(
    at,
    BigInt.asUintN(64, BigInt(v)),
    true,
  );
}

/** Writes a u32 into `bytes` at `at`. */
export function setU32(bytes: Uint8Array, at: number, v: number): void {
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(at, v, true);
}

function alignTo(pos: number, alignment: number): number {
  return Math.ceil(pos / alignment) * alignment;
}

/** Deterministic, distinguishable tensor bytes: byte i of tensor k is (i * 7 + k * 31 + 1) & 255. */
export function pattern(size: number, k: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (i * 7 + k * 31 + 1) & 255;
  return b;
}

/**
 * A small valid file with every value type (including u64/i64 beyond 2^53, a
 * nested array and a string array) and tensors of four types.
 */
export function richSpec(): RawGguf {
  const T = GgufValueType;
  return {
    metadata: [
      ["general.architecture", T.STRING, "llama"],
      ["general.alignment", T.U32, 32],
      ["test.u8", T.U8, 200],
      ["test.i8", T.I8, -100],
      ["test.u16", T.U16, 60000],
      ["test.i16", T.I16, -30000],
      ["test.u32", T.U32, 0xFFFFFFFF],
      ["test.i32", T.I32, -2000000000],
      ["test.f32", T.F32, 0.5],
      ["test.bool", T.BOOL, true],
      ["test.string", T.STRING, "héllo ▁wörld"],
      ["test.u64", T.U64, 2n ** 60n],
      ["test.u64_small", T.U64, 12345],
      ["test.i64", T.I64, -(2n ** 62n)],
      ["test.f64", T.F64, -1.25e300],
      ["tokenizer.ggml.tokens", T.ARRAY, {
        elementType: T.STRING,
        values: ["<unk>", "<s>", "</s>", "▁the", "日本"],
      }],
      ["tokenizer.ggml.scores", T.ARRAY, { elementType: T.F32, values: [0, -1, -2, -3, -4] }],
      ["test.nested", T.ARRAY, {
        elementType: T.ARRAY,
        values: [
          { elementType: T.I16, values: [1, -2, 3] },
          { elementType: T.I16, values: [] },
        ],
      }],
      ["test.bools", T.ARRAY, { elementType: T.BOOL, values: [true, false] }],
    ],
    tensors: [
      { name: "token_embd.weight", type: 0, dims: [8, 5] },
      { name: "blk.0.attn_q.weight", type: 1, dims: [8, 8] },
      { name: "blk.0.ffn_up.weight", type: 8, dims: [64, 3] },
      { name: "blk.0.ffn_down.weight", type: 12, dims: [256, 2, 1] },
      { name: "output_norm.weight", type: 0, dims: [8] },
    ],
  };
}
