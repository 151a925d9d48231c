/**
 * Shows a token's bytes as readable text: valid UTF-8 as it is, and every
 * byte that is not part of a complete character as `<0xXX>`.
 *
 * @module
 */

const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Renders bytes for display.
 *
 * @example A lone lead byte after a letter
 * ```ts
 * import assert from "node:assert/strict";
 * import { displayBytes } from "./display.ts";
 * assert.ok(displayBytes(new Uint8Array([0x61, 0xE6])) === "a<0xE6>");
 * ```
 *
 * @param bytes a token's bytes
 * @returns text with invalid or incomplete bytes escaped
 */
export function displayBytes(bytes: Uint8Array): string {
  const whole = tryDecode(bytes);
  if (whole !== undefined) return whole;
  let out = "";
  for (let i = 0; i < bytes.length;) {
    const length = sequenceLength(bytes[i]!);
    const char = length > 0 && i + length <= bytes.length
      ? tryDecode(bytes.subarray(i, i + length))
      : undefined;
    if (char !== undefined) {
      out += char;
      i += length;
    } else {
      out += `<0x${bytes[i]!.toString(16).toUpperCase().padStart(2, "0")}>`;
      i++;
    }
  }
  return out;
}

/** Length of the UTF-8 sequence a lead byte starts, or 0 for a byte that cannot lead. */
function sequenceLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

function tryDecode(bytes: Uint8Array): string | undefined {
  try {
    return strict.decode(bytes);
  } catch {
    return undefined;
  }
}
