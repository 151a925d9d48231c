import assert from "node:assert/strict";
import { displayBytes } from "../../src/tokenizer/display.ts";

Deno.test("displayBytes() keeps whole characters and escapes the rest", () => {
  const utf8 = (s: string) => [...new TextEncoder().encode(s)];
  assert.equal(displayBytes(Uint8Array.from(utf8(" café"))), " café");
  // A snowman missing its last byte, then a complete one.
  assert.equal(
    displayBytes(Uint8Array.from([0xE2, 0x98, ...utf8("☃")])),
    "<0xE2><0x98>☃",
  );
  assert.equal(displayBytes(Uint8Array.of(0xFF, 0x41)), "<0xFF>A");
  assert.equal(displayBytes(new Uint8Array(0)), "");
});
