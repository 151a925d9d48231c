/**
 * Incremental decoding for streaming output: tokens go in one at a time, and
 * only complete UTF-8 characters come out. A character whose bytes are spread
 * over several tokens is held back until its last byte arrives, then emitted
 * whole, once.
 *
 * @module
 */

/** Options of decoding ids back to text. */
export interface DecodeOptions {
  /** Render control and unknown tokens (BOS, EOS, `<unk>`) as their text; default false (they vanish). */
  readonly special?: boolean;
  /**
   * Remove the space the `llama` dummy prefix put in front of the text: one
   * leading space of the first token that yields any bytes. Default false;
   * no effect on vocabularies without a dummy prefix.
   */
  readonly stripLeadingSpace?: boolean;
}

/** What a stream decoder needs from a tokenizer. */
export interface PieceSource {
  /** Whether encoding prepends a space (the dummy prefix). */
  readonly addSpacePrefix: boolean;
  /** The bytes of one token. */
  tokenBytes(id: number, options: { readonly special: boolean }): Uint8Array;
}

/**
 * Turns a stream of token ids into text without ever emitting part of a
 * character. Bytes that can never form a character come out as U+FFFD, as
 * soon as that is certain.
 *
 * @example A character split over two byte tokens
 * ```ts
 * import assert from "node:assert/strict";
 * import { StreamDecoder } from "./stream_decoder.ts";
 * const pieces = [[0xC3], [0xA9, 0x21]];
 * const decoder = new StreamDecoder({
 *   addSpacePrefix: false,
 *   tokenBytes: (id) => Uint8Array.from(pieces[id]!),
 * });
 * assert.ok(decoder.push(0) === "");
 * assert.ok(decoder.push(1) === "é!");
 * assert.ok(decoder.flush() === "");
 * ```
 */
export class StreamDecoder {
  readonly #source: PieceSource;
  readonly #special: boolean;
  #strip: boolean;
  #decoder = new TextDecoder("utf-8", { ignoreBOM: true });

  /**
   * @param source the tokenizer
   * @param options rendering of special tokens and the dummy prefix
   */
  constructor(source: PieceSource, options: DecodeOptions = {}) {
    this.#source = source;
    this.#special = options.special ?? false;
    this.#strip = (options.stripLeadingSpace ?? false) && source.addSpacePrefix;
  }

  /**
   * Adds one token.
   *
   * @param id token id
   * @returns the text completed by this token (possibly empty)
   * @throws {RangeError} if `id` is not in the vocabulary
   */
  push(id: number): string {
    let bytes = this.#source.tokenBytes(id, { special: this.#special });
    if (this.#strip && bytes.length > 0) {
      if (bytes[0] === 0x20) bytes = bytes.subarray(1);
      this.#strip = false;
    }
    return this.#decoder.decode(bytes, { stream: true });
  }

  /**
   * Ends the stream: an incomplete character still held back comes out as
   * U+FFFD. The decoder can take further tokens afterwards.
   *
   * @returns the remaining text
   */
  flush(): string {
    return this.#decoder.decode();
  }
}
