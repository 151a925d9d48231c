/**
 * GPT-2's reversible byte-to-character mapping for byte-level BPE: every byte
 * becomes one printable character, so BPE vocabularies can be written as
 * text. Printable Latin-1 bytes (`!`..`~`, `¡`..`¬`, `®`..`ÿ`) map to
 * themselves; the other 68 bytes map, in byte order, to U+0100 upwards
 * (space becomes `Ġ`, newline `Ċ`).
 *
 * @module
 */

/** The character for each byte 0..255. */
export const BYTE_TO_CHAR: readonly string[] = buildByteToChar();

const CHAR_TO_BYTE: ReadonlyMap<number, number> = new Map(
  BYTE_TO_CHAR.map((char, byte) => [char.charCodeAt(0), byte]),
);

const encoder = new TextEncoder();

/**
 * Maps the UTF-8 bytes of `text` to their byte-level characters.
 *
 * @example A space and an accented letter
 * ```ts
 * import assert from "node:assert/strict";
 * import { byteLevelEncode } from "./byte_level.ts";
 * assert.ok(byteLevelEncode(" é") === "ĠÃ©");
 * ```
 *
 * @param text any text
 * @returns one character per UTF-8 byte of `text`
 */
export function byteLevelEncode(text: string): string {
  let out = "";
  for (const byte of encoder.encode(text)) out += BYTE_TO_CHAR[byte]!;
  return out;
}

/**
 * Maps byte-level characters back to bytes. A character outside the mapping
 * (which a well-formed vocabulary never holds) contributes its own UTF-8 bytes.
 *
 * @example Back from byte-level text
 * ```ts
 * import assert from "node:assert/strict";
 * import { byteLevelDecode } from "./byte_level.ts";
 * assert.ok(new TextDecoder().decode(byteLevelDecode("ĠÃ©")) === " é");
 * ```
 *
 * @param text byte-level characters, e.g. a BPE token's text
 * @returns the bytes they stand for
 */
export function byteLevelDecode(text: string): Uint8Array {
  const bytes: number[] = [];
  for (const char of text) {
    const byte = CHAR_TO_BYTE.get(char.codePointAt(0)!);
    if (byte !== undefined) bytes.push(byte);
    else bytes.push(...encoder.encode(char));
  }
  return Uint8Array.from(bytes);
}

function buildByteToChar(): string[] {
  const chars: string[] = [];
  let next = 256;
  for (let byte = 0; byte < 256; byte++) {
    const printable = (byte >= 0x21 && byte <= 0x7E) || (byte >= 0xA1 && byte <= 0xAC) ||
      (byte >= 0xAE && byte <= 0xFF);
    chars.push(String.fromCharCode(printable ? byte : next++));
  }
  return chars;
}
