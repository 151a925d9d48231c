/**
 * Byte sources for the GGUF reader: an open file read by offset (never loaded
 * whole), or bytes already in memory.
 *
 * @module
 */

import { InputError } from "../errors.ts";
import type { ByteSource } from "./types.ts";

/**
 * Opens a file for random-access reads. Reads are serialised (one seek + read
 * at a time), so concurrent callers never interleave.
 *
 * @example Reading the magic of a model
 * ```ts
 * import assert from "node:assert/strict";
 * import { openFileSource } from "./byte_source.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "GGUF and the rest");
 * const source = await openFileSource(path);
 * assert.equal(new TextDecoder().decode(await source.read(0, 4)), "GGUF");
 * source.close();
 * await Deno.remove(path);
 * ```
 *
 * @param path file to open
 * @returns a source over the whole file
 * @throws {InputError} if the file is missing, unreadable or a directory
 */
export async function openFileSource(path: string): Promise<ByteSource> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (error) {
    throw new InputError(`Cannot open "${path}": ${describeOpenError(error)}`, { cause: error });
  }
  let size: number;
  try {
    const info = await file.stat();
    if (!info.isFile) {
      throw new InputError(`Cannot open "${path}": it is a directory or special file, not a file`);
    }
    size = info.size;
  } catch (error) {
    file.close();
    if (error instanceof InputError) throw error;
    throw new InputError(`Cannot open "${path}": ${describeOpenError(error)}`, { cause: error });
  }

  let queue: Promise<unknown> = Promise.resolve();
  let closed = false;
  const readAt = async (offset: number, into: Uint8Array): Promise<Uint8Array> => {
    await file.seek(offset, Deno.SeekMode.Start);
    let filled = 0;
    while (filled < into.length) {
      const n = await file.read(into.subarray(filled));
      if (n === null || n === 0) break;
      filled += n;
    }
    return filled === into.length ? into : into.subarray(0, filled);
  };

  return {
    size,
    async read(offset, length, into) {
      checkRange(offset, length, into);
      if (closed) throw new InputError(`Cannot read "${path}": file is closed`);
      const target = !into
        ? new Uint8Array(length)
        : into.length === length
        ? into
        : into.subarray(0, length);
      const result = queue.then(() => readAt(offset, target)).catch((error: unknown) => {
        throw error instanceof InputError
          ? error
          : new InputError(`Cannot read "${path}" at byte ${offset}: ${describeOpenError(error)}`, {
            cause: error,
          });
      });
      queue = result.catch(() => undefined);
      return await result;
    },
    close() {
      if (closed) return;
      closed = true;
      file.close();
    },
  };
}

/**
 * Wraps bytes already in memory. Reads return copies (or fill `into`), so
 * callers never alias the wrapped array.
 *
 * @example Parsing an in-memory file
 * ```ts
 * import assert from "node:assert/strict";
 * import { bytesSource } from "./byte_source.ts";
 * const source = bytesSource(new Uint8Array([0x47, 0x47, 0x55, 0x46]));
 * assert.equal(source.size, 4);
 * assert.deepEqual([...await source.read(2, 2)], [0x55, 0x46]);
 * ```
 *
 * @param bytes the whole file
 * @returns a source over `bytes`
 */
export function bytesSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    // deno-lint-ignore require-await
    async read(offset, length, into) {
      checkRange(offset, length, into);
      const end = Math.min(bytes.length, offset + length);
      const part = bytes.subarray(Math.min(offset, end), end);
      if (!into) return part.slice();
      into.set(part);
      return part.length === into.length ? into : into.subarray(0, part.length);
    },
    close() {},
  };
}

function checkRange(offset: number, length: number, into: Uint8Array | undefined): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw new RangeError(`Cannot read ${length} bytes at offset ${offset}: not a valid range`);
  }
  if (into && into.length < length) {
    throw new RangeError(`Cannot read ${length} bytes into a buffer of ${into.length} bytes`);
  }
}

function describeOpenError(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "no such file";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.IsADirectory) return "it is a directory, not a file";
  return error instanceof Error ? error.message : String(error);
}
