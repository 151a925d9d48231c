import assert from "node:assert/strict";
import { BYTE_TO_CHAR, byteLevelDecode, byteLevelEncode } from "../../src/tokenizer/byte_level.ts";

Deno.test("BYTE_TO_CHAR is GPT-2's byte-to-unicode table", () => {
  assert.equal(new Set(BYTE_TO_CHAR).size, 256);
  assert.equal(BYTE_TO_CHAR[0x20], "Ġ"); // U+0120
  assert.equal(BYTE_TO_CHAR[0x0A], "Ċ"); // U+010A
  assert.equal(BYTE_TO_CHAR[0x00], "Ā"); // U+0100
  assert.equal(BYTE_TO_CHAR[0x41], "A");
  assert.equal(BYTE_TO_CHAR[0xAD], "\u0143"); // soft hyphen, the last unprintable byte
  assert.equal(BYTE_TO_CHAR[0xE9], "é");
});

Deno.test("byteLevelDecode() inverts byteLevelEncode() for every byte", () => {
  const all = Uint8Array.from(Array(256).keys());
  const text = BYTE_TO_CHAR.join("");
  assert.deepEqual(byteLevelDecode(text), all);
  assert.equal(byteLevelEncode("日"), "æĹ¥");
  assert.deepEqual(new TextDecoder().decode(byteLevelDecode(byteLevelEncode("日 ☃"))), "日 ☃");
});

Deno.test("byteLevelDecode() passes a character outside the table through as UTF-8", () => {
  assert.deepEqual(byteLevelDecode("Ġ€"), Uint8Array.of(0x20, 0xE2, 0x82, 0xAC));
});
