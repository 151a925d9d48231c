import assert from "node:assert/strict";
import { type PieceSource, StreamDecoder } from "../../src/tokenizer/stream_decoder.ts";
import { modelTokenizer } from "./_shared.ts";

const TEXT = "aé日😀 👩‍👩‍👧 e\u0301 ☃!";
const BYTES = new TextEncoder().encode(TEXT);

/** Byte offsets where a character of TEXT ends. */
function characterEnds(): number[] {
  const ends: number[] = [];
  let at = 0;
  for (const char of TEXT) ends.push(at += new TextEncoder().encode(char).length);
  return ends;
}

/** A source whose token i is `pieces[i]`. */
function source(pieces: Uint8Array[], addSpacePrefix = false): PieceSource {
  return { addSpacePrefix, tokenBytes: (id) => pieces[id]! };
}

Deno.test("StreamDecoder emits only whole characters for a stream split at every byte position", () => {
  const ends = characterEnds();
  for (let k = 0; k <= BYTES.length; k++) {
    const decoder = new StreamDecoder(source([BYTES.subarray(0, k), BYTES.subarray(k)]));
    const first = decoder.push(0);
    // Everything up to the last character that ends at or before k, nothing more.
    const complete = Math.max(0, ...ends.filter((end) => end <= k));
    assert.equal(first, new TextDecoder().decode(BYTES.subarray(0, complete)), `split at ${k}`);
    const rest = decoder.push(1) + decoder.flush();
    assert.equal(first + rest, TEXT, `split at ${k}`);
    assert.ok(!(first + rest).includes("\uFFFD"));
  }
});

Deno.test("StreamDecoder gives each character once when every byte is its own token", async () => {
  const tokenizer = await modelTokenizer("stories260K.gguf");
  const decoder = tokenizer.streamDecoder();
  const ends = new Set(characterEnds());
  let text = "";
  BYTES.forEach((byte, i) => {
    // stories260K's byte tokens are byte + 3.
    const out = decoder.push(byte + 3);
    if (ends.has(i + 1)) assert.notEqual(out, "", `after byte ${i}`);
    else assert.equal(out, "", `after byte ${i}`);
    text += out;
  });
  assert.equal(text + decoder.flush(), TEXT);
});

Deno.test("StreamDecoder output equals decode() for real token streams", async () => {
  for (const name of ["stories260K.gguf", "llama-2-tiny-random.gguf"]) {
    const tokenizer = await modelTokenizer(name);
    const ids = tokenizer.encode(TEXT, { addEos: true });
    const decoder = tokenizer.streamDecoder({ stripLeadingSpace: true });
    const text = ids.map((id) => decoder.push(id)).join("") + decoder.flush();
    assert.equal(text, TEXT, name);
    assert.equal(text, tokenizer.decode(ids, { stripLeadingSpace: true }));
  }
});

Deno.test("StreamDecoder replaces bytes that cannot form a character, and flushes a cut-off one", () => {
  const pieces = [Uint8Array.of(0xE2), Uint8Array.of(0x41), Uint8Array.of(0xE2, 0x98)];
  const decoder = new StreamDecoder(source(pieces));
  assert.equal(decoder.push(0), "");
  assert.equal(decoder.push(1), "\uFFFDA");
  assert.equal(decoder.push(2), "");
  assert.equal(decoder.flush(), "\uFFFD");
});

Deno.test("StreamDecoder strips the dummy-prefix space once, after leading empty tokens", () => {
  const pieces = [new Uint8Array(0), Uint8Array.of(0x20, 0x61), Uint8Array.of(0x20, 0x62)];
  const decoder = new StreamDecoder(source(pieces, true), { stripLeadingSpace: true });
  assert.equal([0, 1, 2].map((id) => decoder.push(id)).join(""), "a b");
  const keep = new StreamDecoder(source(pieces, false), { stripLeadingSpace: true });
  assert.equal([0, 1, 2].map((id) => keep.push(id)).join(""), " a b");
});
