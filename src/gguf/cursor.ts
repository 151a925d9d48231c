/**
 * A synchronous little-endian cursor over the first bytes of a GGUF file (the
 * "window"). Reading past the window either fails as truncation (the window
 * already reaches the end of the file) or throws {@linkcode NeedMoreBytes} so
 * the reader can load a larger window and parse again.
 *
 * @module
 */

import { cannotRead, type GgufErrorCode, GgufFormatError } from "./format_error.ts";

/** Thrown by {@linkcode Cursor} when the window ends before the file does. */
export class NeedMoreBytes {
  /**
   * @param end how many bytes from the start of the file the parse needs at least
   */
  constructor(readonly end: number) {}
}

const decoder = new TextDecoder("utf-8");

/** Little-endian reads over a window that starts at byte 0 of a file. */
export class Cursor {
  /** Current absolute byte offset. */
  pos = 0;
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #fileSize: number;
  readonly #name: string | undefined;

  /**
   * @param window the first `window.length` bytes of the file
   * @param fileSize size of the whole file
   * @param name file name for messages
   */
  constructor(window: Uint8Array, fileSize: number, name: string | undefined) {
    this.#bytes = window;
    this.#view = new DataView(window.buffer, window.byteOffset, window.byteLength);
    this.#fileSize = fileSize;
    this.#name = name;
  }

  /** Bytes of the file after the cursor. */
  get remaining(): number {
    return this.#fileSize - this.pos;
  }

  /** Size of the whole file. */
  get fileSize(): number {
    return this.#fileSize;
  }

  /**
   * Throws a {@linkcode GgufFormatError} whose message starts with the file name.
   *
   * @param code what is wrong
   * @param offset where
   * @param detail the rest of the sentence, mentioning the offset
   */
  fail(code: GgufErrorCode, offset: number, detail: string): never {
    throw new GgufFormatError(code, `${cannotRead(this.#name)}: ${detail}`, offset);
  }

  /** Makes sure `n` bytes at the cursor are in the window. */
  #need(n: number, what: string): void {
    const end = this.pos + n;
    if (end <= this.#bytes.length) return;
    if (end > this.#fileSize) {
      this.fail(
        "truncated",
        this.pos,
        `file ends at byte ${this.#fileSize} in the middle of ${what} at byte ${this.pos}`,
      );
    }
    throw new NeedMoreBytes(end);
  }

  /** Reads a u8. */
  u8(what: string): number {
    this.#need(1, what);
    return this.#bytes[this.pos++]!;
  }

  /** Reads a u32. */
  u32(what: string): number {
    this.#need(4, what);
    const v = this.#view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  /** Reads a u64 as a bigint. */
  u64(what: string): bigint {
    this.#need(8, what);
    const v = this.#view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /**
   * Reads a u64 length or count of items at least `minItemBytes` long each,
   * failing before any allocation if that many items cannot fit in the rest
   * of the file.
   */
  count(what: string, minItemBytes: number): number {
    const at = this.pos;
    const raw = this.u64(what);
    if (raw > BigInt(Number.MAX_SAFE_INTEGER) || Number(raw) * minItemBytes > this.remaining) {
      // A plausible count is most likely a file cut short; an absurd one a corrupt field.
      const plausible = raw <= 0xFFFF_FFFFn;
      this.fail(
        "length_too_large",
        at,
        plausible
          ? `${what} ${raw} at byte ${at} needs at least ${Number(raw) * minItemBytes} bytes, ` +
            `but the file ends ${this.remaining} bytes later: it is truncated`
          : `${what} ${raw} at byte ${at} exceeds the file size (${this.remaining} bytes left)`,
      );
    }
    return Number(raw);
  }

  /** Reads a GGUF string: u64 byte length, then UTF-8 bytes (decoded leniently). */
  string(what: string): string {
    const n = this.count("string length", 1);
    this.#need(n, what);
    const start = this.pos;
    this.pos += n;
    return decodeText(this.#bytes, start, this.pos);
  }

  /** Reads `n` bytes of fixed-size values through `read(view, offset)`, advancing the cursor. */
  fixed<T>(n: number, what: string, read: (view: DataView, offset: number) => T): T {
    this.#need(n, what);
    const v = read(this.#view, this.pos);
    this.pos += n;
    return v;
  }
}

/** Decodes short ASCII strings without TextDecoder, the rest with one shared decoder. */
function decodeText(bytes: Uint8Array, start: number, end: number): string {
  if (end - start <= 16) {
    let s = "";
    for (let i = start; i < end; i++) {
      const b = bytes[i]!;
      if (b >= 0x80) return decoder.decode(bytes.subarray(start, end));
      s += String.fromCharCode(b);
    }
    return s;
  }
  return decoder.decode(bytes.subarray(start, end));
}
