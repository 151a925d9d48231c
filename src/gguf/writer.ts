/**
 * GGUF writer: encodes metadata and tensors into a GGUF v3 file (the layout
 * the reader documents in `reader.ts`). Used to build fixture models and
 * test inputs; it never touches a file it did not create.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { ByteSink } from "./byte_sink.ts";
import { type GgmlType, ggmlTypeInfo } from "./ggml_type.ts";
import { KV } from "./keys.ts";
import { type GgufEntry, GgufValueType } from "./types.ts";
import { checkValue, writeValue } from "./write_value.ts";

/** One tensor to write. */
export interface GgufTensorSpec {
  /** Tensor name, at most 63 UTF-8 bytes (ggml's limit). */
  name: string;
  /** Element type of `data`. */
  type: GgmlType;
  /** Dimensions, innermost first (ggml's `ne`); 1 to 4 positive integers. */
  dims: number[];
  /** Packed tensor bytes, exactly as many as the dims and type require. */
  data: Uint8Array;
}

/** A whole file to write. */
export interface GgufSpec {
  /** Data alignment in bytes (a positive multiple of 8); 32 when absent. */
  alignment?: number;
  /** Metadata entries in file order; keys must be unique. */
  metadata: Array<[string, GgufEntry]>;
  /** Tensors in file order; names must be unique. */
  tensors: GgufTensorSpec[];
}

const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
const GGUF_VERSION = 3;
const DEFAULT_ALIGNMENT = 32;
const MAX_NAME_BYTES = 63;
const utf8Length = (s: string) => new TextEncoder().encode(s).length;

/** Resolves the alignment and the metadata to write (adding `general.alignment` if needed). */
function resolveAlignment(spec: GgufSpec): { alignment: number; metadata: [string, GgufEntry][] } {
  const metadata = [...spec.metadata];
  const stored = metadata.find(([key]) => key === KV.alignment)?.[1];
  if (stored && stored.type !== GgufValueType.U32) {
    throw new TypeError(
      `Cannot encode metadata "${KV.alignment}": expected a u32, got value type ${stored.type}`,
    );
  }
  const alignment = spec.alignment ?? (stored?.value as number | undefined) ?? DEFAULT_ALIGNMENT;
  if (!Number.isSafeInteger(alignment) || alignment <= 0 || alignment % 8 !== 0) {
    throw new RangeError(`Cannot use alignment ${alignment}: not a positive multiple of 8`);
  }
  if (stored && stored.value !== alignment) {
    throw new RangeError(
      `Cannot use alignment ${alignment}: metadata "${KV.alignment}" says ${stored.value}`,
    );
  }
  if (!stored && alignment !== DEFAULT_ALIGNMENT) {
    metadata.push([KV.alignment, { type: GgufValueType.U32, value: alignment }]);
  }
  return { alignment, metadata };
}

/** Checks names, dims and data sizes of the tensors. */
function checkTensors(tensors: readonly GgufTensorSpec[]): void {
  const seen = new Set<string>();
  for (const { name, type, dims, data } of tensors) {
    if (name === "" || utf8Length(name) > MAX_NAME_BYTES) {
      throw new RangeError(`Cannot write tensor "${name}": name must be 1..63 UTF-8 bytes`);
    }
    if (seen.has(name)) throw new RangeError(`Cannot write tensor "${name}": duplicate name`);
    seen.add(name);
    if (
      dims.length < 1 || dims.length > 4 || !dims.every((d) => Number.isSafeInteger(d) && d > 0)
    ) {
      throw new RangeError(
        `Cannot write tensor "${name}": dims [${dims}] must be 1 to 4 positive integers`,
      );
    }
    const { name: typeName, blockElems, blockBytes } = ggmlTypeInfo(type);
    if (dims[0]! % blockElems !== 0) {
      throw new RangeError(
        `Cannot write ${typeName} tensor "${name}": dims[0] = ${
          dims[0]
        } is not a multiple of ${blockElems}`,
      );
    }
    const expected = dims.reduce((a, b) => a * b, 1) / blockElems * blockBytes;
    if (data.length !== expected) {
      throw new RangeError(
        `Cannot write ${typeName} tensor "${name}" [${dims}]: data has ${data.length} bytes, expected ${expected}`,
      );
    }
  }
}

/**
 * Encodes a GGUF v3 file in memory.
 *
 * @param spec metadata (any value type, nested arrays included), tensors and alignment
 * @returns the file's bytes: header, metadata, tensor table, zero padding to
 * the alignment, then each tensor's data padded to the alignment
 * @throws {TypeError} if a metadata value does not match its type tag
 * @throws {RangeError} if a key or tensor name repeats or is too long, an
 * integer is out of range, the alignment is not a positive multiple of 8, or
 * a tensor's data length does not match its dims and type
 * @example A file with one tensor
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeGguf } from "./writer.ts";
 * import { GgmlType } from "./ggml_type.ts";
 * import { GgufValueType } from "./types.ts";
 * const bytes = encodeGguf({
 *   metadata: [["general.name", { type: GgufValueType.STRING, value: "tiny" }]],
 *   tensors: [{ name: "w", type: GgmlType.F32, dims: [2], data: new Uint8Array(8) }],
 * });
 * assert.equal(new TextDecoder().decode(bytes.subarray(0, 4)), "GGUF");
 * assert.equal(bytes.length % 32, 0); // the data is padded to the alignment
 * ```
 */
export function encodeGguf(spec: GgufSpec): Uint8Array {
  const { alignment, metadata } = resolveAlignment(spec);
  const keys = new Set<string>();
  for (const [key, entry] of metadata) {
    if (key === "" || utf8Length(key) > 65535) {
      throw new RangeError(`Cannot encode metadata key "${key}": must be 1..65535 UTF-8 bytes`);
    }
    if (keys.has(key)) throw new RangeError(`Cannot encode metadata "${key}": duplicate key`);
    keys.add(key);
    checkValue(entry.type, entry.value, `metadata "${key}"`);
  }
  checkTensors(spec.tensors);

  const sink = new ByteSink();
  sink.u32(GGUF_MAGIC);
  sink.u32(GGUF_VERSION);
  sink.u64(spec.tensors.length);
  sink.u64(metadata.length);
  for (const [key, { type, value }] of metadata) {
    sink.string(key);
    sink.u32(type);
    writeValue(sink, type, value);
  }
  let offset = 0;
  for (const { name, type, dims, data } of spec.tensors) {
    sink.string(name);
    sink.u32(dims.length);
    for (const d of dims) sink.u64(d);
    sink.u32(type);
    sink.u64(offset);
    offset += data.length + ((alignment - (data.length % alignment)) % alignment);
  }
  sink.pad(alignment);
  for (const { data } of spec.tensors) {
    sink.raw(data);
    sink.pad(alignment);
  }
  return sink.bytes();
}

/**
 * Writes a GGUF file atomically: the bytes go to a temporary file in the same
 * directory, which is then renamed over `path`, so a crash never leaves a
 * half-written file behind.
 *
 * @param path destination file
 * @param spec what to write (see {@linkcode encodeGguf})
 * @throws {TypeError | RangeError} as {@linkcode encodeGguf}
 * @throws {Deno.errors.NotFound} if the directory does not exist
 * @example Write a metadata-only file
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeGguf, writeGguf } from "./writer.ts";
 * const dir = await Deno.makeTempDir();
 * const spec = { metadata: [], tensors: [] };
 * await writeGguf(`${dir}/empty.gguf`, spec);
 * assert.deepEqual(await Deno.readFile(`${dir}/empty.gguf`), encodeGguf(spec));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeGguf(path: string, spec: GgufSpec): Promise<void> {
  const bytes = encodeGguf(spec);
  const temp = join(dirname(path), `.${crypto.randomUUID()}.gguf.tmp`);
  try {
    await Deno.writeFile(temp, bytes);
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}
