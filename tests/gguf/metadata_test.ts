import assert from "node:assert/strict";
import { bytesSource } from "../../src/gguf/byte_source.ts";
import { type GgufErrorCode, GgufFormatError } from "../../src/gguf/format_error.ts";
import { GgufMetadata } from "../../src/gguf/metadata.ts";
import { parseGguf } from "../../src/gguf/reader.ts";
import { type GgufEntry, GgufValueType } from "../../src/gguf/types.ts";
import { buildGguf, richSpec } from "./_gguf_bytes.ts";

const T = GgufValueType;

function meta(entries: [string, GgufEntry][]): GgufMetadata {
  return new GgufMetadata(new Map(entries), { name: "m.gguf" });
}

function throwsFormat(fn: () => unknown, code: GgufErrorCode, pattern: RegExp): GgufFormatError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof GgufFormatError, `expected GgufFormatError, got ${caught}`);
  assert.equal(caught.code, code);
  assert.match(caught.message, pattern);
  return caught;
}

Deno.test("GgufMetadata.number() accepts every integer and float width", () => {
  const types = [T.U8, T.I8, T.U16, T.I16, T.U32, T.I32, T.F32, T.U64, T.I64, T.F64];
  const m = meta(types.map((type, i) => [`k${i}`, { type, value: i + 1 }]));
  types.forEach((_, i) => assert.equal(m.number(`k${i}`), i + 1));
  assert.equal(m.optionalNumber("absent"), undefined);
});

Deno.test("GgufMetadata getters return strings, bools and arrays", () => {
  const m = meta([
    ["s", { type: T.STRING, value: "llama" }],
    ["b", { type: T.BOOL, value: false }],
    ["ss", { type: T.ARRAY, value: { elementType: T.STRING, values: ["a", "b"] } }],
    ["ns", { type: T.ARRAY, value: { elementType: T.I32, values: [1, -2] } }],
    ["fs", { type: T.ARRAY, value: { elementType: T.F32, values: [0.5] } }],
  ]);
  assert.equal(m.string("s"), "llama");
  assert.equal(m.optionalString("s"), "llama");
  assert.equal(m.bool("b"), false);
  assert.equal(m.optionalBool("b"), false);
  assert.deepEqual(m.stringArray("ss"), ["a", "b"]);
  assert.deepEqual(m.optionalStringArray("ss"), ["a", "b"]);
  assert.deepEqual(m.numberArray("ns"), [1, -2]);
  assert.deepEqual(m.optionalNumberArray("fs"), [0.5]);
  assert.equal(m.optionalStringArray("none"), undefined);
  assert.equal(m.optionalNumberArray("none"), undefined);
  assert.equal(m.has("s"), true);
  assert.equal(m.has("none"), false);
  assert.equal(m.get("s"), "llama");
  assert.equal(m.get("none"), undefined);
});

Deno.test("GgufMetadata getters name the key and both types when the type is wrong", () => {
  const m = meta([
    ["s", { type: T.STRING, value: "5" }],
    ["n", { type: T.U32, value: 5 }],
    ["big", { type: T.U64, value: 2n ** 60n }],
    ["ns", { type: T.ARRAY, value: { elementType: T.U32, values: [1] } }],
    ["bigs", { type: T.ARRAY, value: { elementType: T.I64, values: [1, -(2n ** 60n)] } }],
  ]);
  throwsFormat(
    () => m.number("s"),
    "wrong_type",
    /^Cannot read "m\.gguf": metadata key "s" is a string, expected a number$/,
  );
  throwsFormat(() => m.optionalString("n"), "wrong_type", /key "n" is a u32, expected a string/);
  throwsFormat(() => m.bool("n"), "wrong_type", /key "n" is a u32, expected a bool/);
  throwsFormat(
    () => m.number("big"),
    "wrong_type",
    /a u64 too large for a number \(1152921504606846976\)/,
  );
  throwsFormat(
    () => m.stringArray("ns"),
    "wrong_type",
    /key "ns" is an array of u32, expected an array of string/,
  );
  throwsFormat(() => m.numberArray("s"), "wrong_type", /is a string, expected an array of numbers/);
  throwsFormat(
    () => m.numberArray("bigs"),
    "wrong_type",
    /expected an array of numbers within 2\^53/,
  );
});

Deno.test("GgufMetadata getters report a missing required key", () => {
  const m = meta([]);
  const error = throwsFormat(
    () => m.string("general.architecture"),
    "missing_key",
    /^Cannot read "m\.gguf": metadata key "general\.architecture" \(a string\) is missing$/,
  );
  assert.equal(error.offset, -1);
  throwsFormat(() => m.numberArray("x"), "missing_key", /"x" \(an array of numbers\) is missing/);
  throwsFormat(() => m.bool("x"), "missing_key", /"x" \(a bool\) is missing/);
});

Deno.test("GgufMetadata from a parsed file reports the byte offset of a mistyped value", async () => {
  const { bytes, layout } = buildGguf(richSpec());
  const file = await parseGguf(bytesSource(bytes), { name: "rich.gguf" });
  const at = layout.valueAt.get("test.string")!;
  const error = throwsFormat(
    () => file.metadata.number("test.string"),
    "wrong_type",
    new RegExp(
      `^Cannot read "rich\\.gguf": metadata key "test\\.string" at byte ${at} is a string`,
    ),
  );
  assert.equal(error.offset, at);
  assert.deepEqual(file.metadata.numberArray("tokenizer.ggml.scores"), [0, -1, -2, -3, -4]);
  assert.equal(file.metadata.string("test.string"), "héllo ▁wörld");
});
