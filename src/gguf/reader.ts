/**
 * GGUF reader: header, metadata and tensor table, with tensor bytes read
 * lazily by offset. Every source (file, bytes) goes through one
 * {@linkcode parseGguf}.
 *
 * The file format (versions 2 and 3, little-endian; see
 * `docs/gguf-format.md`):
 *
 * ```text
 * header       magic "GGUF" (4 bytes) | version u32 | tensor_count u64 | kv_count u64
 * metadata     kv_count × { key: string | type: u32 | value }
 * tensor table tensor_count × { name: string | n_dims: u32 | dims: n_dims × u64
 *                               | ggml type: u32 | offset: u64 (relative to the data section) }
 * padding      zeros up to the next multiple of ALIGN
 * data         tensor bytes; each tensor starts at data_offset + offset (a multiple of ALIGN)
 *
 * string = u64 byte length + UTF-8 bytes (no NUL)
 * value  = u8 i8 u16 i16 u32 i32 f32 bool string array u64 i64 f64 (type tags 0..12)
 * array  = element type u32 | count u64 | count × element (arrays may nest)
 * ALIGN  = general.alignment (a nonzero multiple of 8), 32 when absent
 * dims[0] is the innermost (contiguous) dimension and a multiple of the type's block size
 * ```
 *
 * The header region is parsed synchronously from a window of the file's first
 * bytes that starts at 1 MiB and grows (then parses again) until the tensor
 * table fits; tensor data is never read until asked for. Every length and
 * count is checked against the bytes left in the file before anything is
 * allocated for it.
 *
 * @module
 */

import { openFileSource } from "./byte_source.ts";
import { Cursor, NeedMoreBytes } from "./cursor.ts";
import { cannotRead, GgufFormatError } from "./format_error.ts";
import { KV } from "./keys.ts";
import { GgufMetadata } from "./metadata.ts";
import { readValue, readValueType, valueTypeName } from "./read_value.ts";
import { MIN_DESCRIPTOR_BYTES, readTensorTable } from "./tensor_table.ts";
import { type ByteSource, type GgufEntry, type GgufTensorInfo, GgufValueType } from "./types.ts";

/** A parsed GGUF file whose tensor bytes are read on demand. */
export interface GgufFile {
  /** Path of the file, when opened from one. */
  readonly path?: string;
  /** Format version (2 or 3). */
  readonly version: number;
  /** Data alignment in bytes (`general.alignment`, default 32). */
  readonly alignment: number;
  /** Absolute offset of the data section. */
  readonly dataOffset: number;
  /** Size of the file in bytes. */
  readonly fileSize: number;
  /** Key/value metadata. */
  readonly metadata: GgufMetadata;
  /** Tensor descriptors, in file order. */
  readonly tensors: readonly GgufTensorInfo[];
  /** The descriptor named `name`, if any. */
  tensor(name: string): GgufTensorInfo | undefined;
  /**
   * Reads one tensor's bytes.
   *
   * @param info a descriptor of this file
   * @param into optional buffer of at least `info.byteSize` bytes to fill
   * @returns exactly `info.byteSize` bytes (a view of `into` when given)
   * @throws {RangeError} if `into` is too small
   * @throws {GgufFormatError} if the file has shrunk since it was parsed
   */
  readTensor(info: GgufTensorInfo, into?: Uint8Array): Promise<Uint8Array>;
  /**
   * Reads `into.length` bytes of one tensor, from byte `start` of its data: a
   * piece of a tensor too large to hold in memory at once.
   *
   * @param info a descriptor of this file
   * @param start byte offset inside the tensor's data
   * @param into the buffer to fill, whole
   * @returns `into`, filled
   * @throws {RangeError} if the range leaves the tensor
   * @throws {GgufFormatError} if the file has shrunk since it was parsed
   */
  readTensorPart(info: GgufTensorInfo, start: number, into: Uint8Array): Promise<Uint8Array>;
  /** Releases the underlying source. */
  close(): void;
}

/** Options of {@linkcode parseGguf}. */
export interface ParseGgufOptions {
  /** Name used in error messages (defaults to `path`). */
  readonly name?: string;
  /** Path of the file, recorded as {@linkcode GgufFile.path}. */
  readonly path?: string;
}

/** First window of the header region; it grows until the tensor table fits. */
export const INITIAL_WINDOW_BYTES = 1 << 20;

/** Factor by which the window grows (at least) when the header region does not fit. */
const WINDOW_GROWTH = 4;

/** Default `general.alignment`. */
export const DEFAULT_ALIGNMENT = 32;

const MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
const MAGIC_SWAPPED = 0x47475546; // "FUGG": the magic written big-endian
const MIN_ENTRY_BYTES = 8 + 4 + 1; // key length, type tag, smallest value

/** Everything the header region holds. */
interface Header {
  readonly version: number;
  readonly alignment: number;
  readonly dataOffset: number;
  readonly entries: Map<string, GgufEntry>;
  readonly offsets: Map<string, number>;
  readonly tensors: GgufTensorInfo[];
}

/**
 * Parses the header, metadata and tensor table of a GGUF source and returns a
 * file whose tensor bytes are read lazily. On failure the source stays open
 * (the caller owns it).
 *
 * @example Parsing bytes in memory
 * ```ts
 * import assert from "node:assert/strict";
 * import { bytesSource } from "./byte_source.ts";
 * import { parseGguf } from "./reader.ts";
 * import { GgufValueType } from "./types.ts";
 * import { encodeGguf } from "./writer.ts";
 * const bytes = encodeGguf({
 *   metadata: [["general.architecture", { type: GgufValueType.STRING, value: "llama" }]],
 *   tensors: [],
 * });
 * const file = await parseGguf(bytesSource(bytes), { name: "tiny.gguf" });
 * assert.equal(file.metadata.string("general.architecture"), "llama");
 * assert.equal(file.tensors.length, 0);
 * ```
 *
 * @param source where to read from
 * @param options name for messages, path to record
 * @returns the parsed file
 * @throws {GgufFormatError} if the file is malformed or uses an unsupported tensor type
 */
export async function parseGguf(
  source: ByteSource,
  options: ParseGgufOptions = {},
): Promise<GgufFile> {
  const name = options.name ?? options.path;
  const fileSize = source.size;
  let window = await readWindow(
    source,
    new Uint8Array(0),
    Math.min(fileSize, INITIAL_WINDOW_BYTES),
    name,
  );
  let header: Header | undefined;
  while (!header) {
    try {
      header = parseHeader(new Cursor(window, fileSize, name));
    } catch (error) {
      if (!(error instanceof NeedMoreBytes)) throw error;
      const size = Math.min(fileSize, Math.max(WINDOW_GROWTH * window.length, error.end));
      window = await readWindow(source, window, size, name);
    }
  }

  const { version, alignment, dataOffset, entries, offsets, tensors } = header;
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const file: GgufFile = {
    version,
    alignment,
    dataOffset,
    fileSize,
    metadata: new GgufMetadata(entries, name === undefined ? { offsets } : { name, offsets }),
    tensors,
    tensor: (tensorName) => byName.get(tensorName),
    async readTensor(info, into) {
      if (into && into.length < info.byteSize) {
        throw new RangeError(
          `Cannot read tensor "${info.name}" into a buffer of ${into.length} bytes: it needs ${info.byteSize}`,
        );
      }
      const bytes = await source.read(info.offset, info.byteSize, into);
      if (bytes.length < info.byteSize) throw truncatedTensor(name, info, bytes.length);
      return bytes;
    },
    async readTensorPart(info, start, into) {
      if (!Number.isSafeInteger(start) || start < 0 || start + into.length > info.byteSize) {
        throw new RangeError(
          `Cannot read bytes ${start} to ${start + into.length} of tensor "${info.name}": ` +
            `it has ${info.byteSize}`,
        );
      }
      const bytes = await source.read(info.offset + start, into.length, into);
      if (bytes.length < into.length) throw truncatedTensor(name, info, start + bytes.length);
      return bytes;
    },
    close: () => source.close(),
  };
  return options.path === undefined ? file : { ...file, path: options.path };
}

/** The error of a file that ends `read` bytes into a tensor's data. */
function truncatedTensor(
  name: string | undefined,
  info: GgufTensorInfo,
  read: number,
): GgufFormatError {
  return new GgufFormatError(
    "truncated",
    `${cannotRead(name)}: file ends at byte ${info.offset + read} inside tensor "${info.name}" ` +
      `(bytes ${info.offset} to ${info.offset + info.byteSize})`,
    info.offset + read,
  );
}

/**
 * Opens and parses a GGUF file; tensor bytes stay on disk until read.
 *
 * @example Listing a model's tensors
 * ```ts
 * import assert from "node:assert/strict";
 * import { GgmlType } from "./ggml_type.ts";
 * import { openGguf } from "./reader.ts";
 * import { writeGguf } from "./writer.ts";
 * const path = await Deno.makeTempFile({ suffix: ".gguf" });
 * const data = new Uint8Array(new Float32Array([1, 2]).buffer);
 * await writeGguf(path, { metadata: [], tensors: [{ name: "w", type: GgmlType.F32, dims: [2], data }] });
 * const model = await openGguf(path);
 * assert.deepEqual(model.tensors.map((t) => [t.name, t.dims]), [["w", [2]]]);
 * assert.deepEqual(await model.readTensor(model.tensors[0]!), data);
 * model.close();
 * await Deno.remove(path);
 * ```
 *
 * @param path file to open
 * @returns the parsed file (close it when done)
 * @throws {InputError} if the file is missing or unreadable
 * @throws {GgufFormatError} if it is not a valid GGUF file d2o can read
 */
export async function openGguf(path: string): Promise<GgufFile> {
  const source = await openFileSource(path);
  try {
    return await parseGguf(source, { path });
  } catch (error) {
    source.close();
    throw error;
  }
}

/** Extends `window` (the first bytes of the source) to `size` bytes. */
async function readWindow(
  source: ByteSource,
  window: Uint8Array,
  size: number,
  name: string | undefined,
): Promise<Uint8Array> {
  const grown = new Uint8Array(size);
  grown.set(window);
  const added = await source.read(
    window.length,
    size - window.length,
    grown.subarray(window.length),
  );
  if (window.length + added.length < size) {
    const end = window.length + added.length;
    throw new GgufFormatError(
      "truncated",
      `${
        cannotRead(name)
      }: file ends at byte ${end}, before its stated size of ${source.size} bytes`,
      end,
    );
  }
  return grown;
}

function parseHeader(cursor: Cursor): Header {
  const version = readMagicAndVersion(cursor);
  const tensorCount = cursor.count("tensor count", MIN_DESCRIPTOR_BYTES);
  const entryCount = cursor.count("metadata entry count", MIN_ENTRY_BYTES);

  const entries = new Map<string, GgufEntry>();
  const offsets = new Map<string, number>();
  for (let i = 0; i < entryCount; i++) {
    const keyAt = cursor.pos;
    const key = cursor.string("metadata key");
    if (entries.has(key)) {
      cursor.fail("duplicate_key", keyAt, `metadata key "${key}" at byte ${keyAt} appears twice`);
    }
    const type = readValueType(cursor, `value type of "${key}"`);
    offsets.set(key, cursor.pos);
    entries.set(key, { type, value: readValue(cursor, type) });
  }

  const alignment = readAlignment(cursor, entries, offsets);
  const { tensors, dataOffset } = readTensorTable(cursor, tensorCount, alignment);
  return { version, alignment, dataOffset, entries, offsets, tensors };
}

function readMagicAndVersion(cursor: Cursor): number {
  if (cursor.fileSize === 0) {
    cursor.fail("truncated", 0, "file is empty (ends at byte 0), expected a GGUF header");
  }
  if (cursor.fileSize >= 4) {
    const magic = cursor.u32("the magic");
    if (magic === MAGIC_SWAPPED) {
      cursor.fail(
        "big_endian",
        0,
        'file is big-endian (magic "FUGG" at byte 0); d2o reads only little-endian GGUF files',
      );
    }
    if (magic !== MAGIC) {
      const hex = [0, 8, 16, 24].map((s) => ((magic >>> s) & 0xFF).toString(16).padStart(2, "0"));
      cursor.fail(
        "bad_magic",
        0,
        `not a GGUF file: the magic at byte 0 is ${hex.join(" ")}, expected "GGUF"`,
      );
    }
  } else {
    cursor.u32("the magic");
  }
  const at = cursor.pos;
  const version = cursor.u32("the version");
  if (version === 2 || version === 3) return version;
  const swapped = ((version & 0xFF) << 24 | (version & 0xFF00) << 8 | (version >>> 8) & 0xFF00 |
    version >>> 24) >>> 0;
  if (swapped >= 1 && swapped <= 3) {
    cursor.fail(
      "big_endian",
      at,
      `file is big-endian (version reads as 0x${
        version.toString(16).padStart(8, "0")
      } at byte ${at}, ${swapped} byte-swapped); d2o reads only little-endian GGUF files`,
    );
  }
  const hint = version === 1
    ? "version 1 is obsolete; convert the model again with a current llama.cpp"
    : "expected 2 or 3";
  cursor.fail(
    "unsupported_version",
    at,
    `GGUF version ${version} at byte ${at} is not supported: ${hint}`,
  );
}

function readAlignment(
  cursor: Cursor,
  entries: Map<string, GgufEntry>,
  offsets: Map<string, number>,
): number {
  const entry = entries.get(KV.alignment);
  if (!entry) return DEFAULT_ALIGNMENT;
  const at = offsets.get(KV.alignment)!;
  const integer = entry.type <= GgufValueType.I32 && entry.type !== GgufValueType.F32 ||
    entry.type === GgufValueType.U64 || entry.type === GgufValueType.I64;
  if (!integer) {
    cursor.fail(
      "bad_alignment",
      at,
      `${KV.alignment} at byte ${at} is a ${valueTypeName(entry.type)}, expected an integer`,
    );
  }
  const value = entry.value;
  if (typeof value !== "number" || value <= 0 || value % 8 !== 0) {
    cursor.fail(
      "bad_alignment",
      at,
      `${KV.alignment} = ${value} at byte ${at} is not a nonzero multiple of 8`,
    );
  }
  return value;
}
