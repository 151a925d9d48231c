/**
 * A growable little-endian byte buffer for building GGUF files.
 *
 * @module
 */

const encoder = new TextEncoder();

/**
 * Appends little-endian numbers, GGUF strings and raw bytes to a buffer that
 * grows as needed.
 *
 * @example Write a GGUF string
 * ```ts
 * import assert from "node:assert/strict";
 * import { ByteSink } from "./byte_sink.ts";
 * const sink = new ByteSink();
 * sink.string("hi");
 * assert.deepEqual([...sink.bytes()], [2, 0, 0, 0, 0, 0, 0, 0, 0x68, 0x69]); // u64 length, bytes
 * ```
 */
export class ByteSink {
  #buf = new Uint8Array(1024);
  #view = new DataView(this.#buf.buffer);
  #len = 0;

  /** Bytes written so far. */
  get length(): number {
    return this.#len;
  }

  /**
   * Makes room for `n` more bytes and returns the offset to write them at.
   * Call it before reading `#view`/`#buf`: it may replace them.
   */
  #reserve(n: number): number {
    const at = this.#len;
    if (at + n > this.#buf.length) {
      const grown = new Uint8Array(Math.max(2 * this.#buf.length, at + n));
      grown.set(this.#buf.subarray(0, at));
      this.#buf = grown;
      this.#view = new DataView(grown.buffer);
    }
    this.#len = at + n;
    return at;
  }

  /** Appends a u8. */
  u8(v: number): void {
    const at = this.#reserve(1);
    this.#view.setUint8(at, v);
  }
  /** Appends an i8. */
  i8(v: number): void {
    const at = this.#reserve(1);
    this.#view.setInt8(at, v);
  }
  /** Appends a u16. */
  u16(v: number): void {
    const at = this.#reserve(2);
    this.#view.setUint16(at, v, true);
  }
  /** Appends an i16. */
  i16(v: number): void {
    const at = this.#reserve(2);
    this.#view.setInt16(at, v, true);
  }
  /** Appends a u32. */
  u32(v: number): void {
    const at = this.#reserve(4);
    this.#view.setUint32(at, v, true);
  }
  /** Appends an i32. */
  i32(v: number): void {
    const at = this.#reserve(4);
    this.#view.setInt32(at, v, true);
  }
  /** Appends a u64. */
  u64(v: number | bigint): void {
    const at = this.#reserve(8);
    this.#view.setBigUint64(at, BigInt(v), true);
  }
  /** Appends an i64. */
  i64(v: number | bigint): void {
    const at = this.#reserve(8);
    this.#view.setBigInt64(at, BigInt(v), true);
  }
  /** Appends an f32. */
  f32(v: number): void {
    const at = this.#reserve(4);
    this.#view.setFloat32(at, v, true);
  }
  /** Appends an f64. */
  f64(v: number): void {
    const at = this.#reserve(8);
    this.#view.setFloat64(at, v, true);
  }
  /** Appends raw bytes. */
  raw(bytes: Uint8Array): void {
    const at = this.#reserve(bytes.length);
    this.#buf.set(bytes, at);
  }
  /** Appends a GGUF string: u64 byte length, then the UTF-8 bytes. */
  string(s: string): void {
    const bytes = encoder.encode(s);
    this.u64(bytes.length);
    this.raw(bytes);
  }
  /** Appends zero bytes up to the next multiple of `alignment`. */
  pad(alignment: number): void {
    const n = (alignment - (this.#len % alignment)) % alignment;
    const at = this.#reserve(n);
    this.#buf.fill(0, at, this.#len);
  }

  /** The bytes written, as a view of the internal buffer. */
  bytes(): Uint8Array {
    return this.#buf.subarray(0, this.#len);
  }
}
