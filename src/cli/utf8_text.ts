/**
 * Text inputs (`-f`, stdin, `--prompts`, `profile --text`) are UTF-8 and are
 * never changed silently: bytes that are not UTF-8 are refused with one line
 * naming the input, the line and the byte offset (exit 3), instead of
 * becoming U+FFFD. llama.cpp is not one rule here (its SentencePiece path
 * feeds such bytes to byte-fallback tokens, its byte-level BPE path turns
 * each into U+FFFD), and a prompt d2o would tokenize differently from what the
 * file says is worse than a refusal (docs/cli.md, "Input bytes").
 *
 * @module
 */

import { InputError } from "../errors.ts";

const strict = new TextDecoder("utf-8", { fatal: true });

/**
 * Decodes `bytes` as UTF-8 (a leading byte-order mark is dropped).
 *
 * @param bytes the input's bytes
 * @param what the input, for the message, e.g. `prompt file "p.txt"`
 * @returns the text
 * @throws {InputError} at the first byte that is not UTF-8, naming its line and offset
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeUtf8 } from "./utf8_text.ts";
 * assert.equal(decodeUtf8(new TextEncoder().encode("héllo"), "stdin"), "héllo");
 * assert.throws(() => decodeUtf8(new Uint8Array([0x68, 0xff]), "stdin"));
 * ```
 */
export function decodeUtf8(bytes: Uint8Array, what: string): string {
  try {
    return strict.decode(bytes);
  } catch {
    const at = firstInvalidUtf8(bytes);
    let line = 1;
    for (let i = 0; i < at; i++) if (bytes[i] === 0x0a) line++;
    const byte = bytes[at]!.toString(16).padStart(2, "0");
    throw new InputError(
      `Cannot read ${what}: line ${line} is not UTF-8 (byte 0x${byte} at offset ${at}); ` +
        `d2o reads text as UTF-8 and never replaces bytes: convert it first, ` +
        `e.g. iconv -f LATIN1 -t UTF-8`,
    );
  }
}

/**
 * The offset of the first byte that does not belong to a well-formed UTF-8
 * sequence (overlong forms, surrogates, code points past U+10FFFF and a
 * sequence cut short count as ill-formed), or −1 when all of `bytes` is UTF-8.
 *
 * @param bytes the bytes to check
 * @returns the offset of the sequence's first byte, or −1
 */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const n = sequenceLength(bytes, i);
    if (n === 0) return i;
    i += n;
  }
  return -1;
}

/** The length of the well-formed sequence at `i` (1–4), or 0 when it is ill-formed. */
function sequenceLength(bytes: Uint8Array, i: number): number {
  const b = bytes[i]!;
  if (b < 0x80) return 1;
  // The lead byte gives the length and the range of the second byte (Unicode table 3-7).
  const [n, lo, hi] = b >= 0xc2 && b <= 0xdf
    ? [2, 0x80, 0xbf]
    : b === 0xe0
    ? [3, 0xa0, 0xbf]
    : b === 0xed
    ? [3, 0x80, 0x9f]
    : b >= 0xe1 && b <= 0xef
    ? [3, 0x80, 0xbf]
    : b === 0xf0
    ? [4, 0x90, 0xbf]
    : b >= 0xf1 && b <= 0xf3
    ? [4, 0x80, 0xbf]
    : b === 0xf4
    ? [4, 0x80, 0x8f]
    : [0, 0, 0];
  if (n === 0 || i + n > bytes.length) return 0;
  const second = bytes[i + 1]!;
  if (second < lo || second > hi) return 0;
  for (let k = 2; k < n; k++) {
    const c = bytes[i + k]!;
    if (c < 0x80 || c > 0xbf) return 0;
  }
  return n;
}
