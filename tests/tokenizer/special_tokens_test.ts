import assert from "node:assert/strict";
import { partitionSpecial, type SpecialToken } from "../../src/tokenizer/special_tokens.ts";

const SPECIALS: SpecialToken[] = [
  { id: 10, text: "<|eot|>", needsParseSpecial: true },
  { id: 11, text: "<tool>", needsParseSpecial: false },
  { id: 12, text: "<s>", needsParseSpecial: true },
];

Deno.test("partitionSpecial() splits at every occurrence and drops empty text", () => {
  assert.deepEqual(partitionSpecial("<s>a<s><s>b<|eot|>", SPECIALS, true), [
    { id: 12 },
    { text: "a" },
    { id: 12 },
    { id: 12 },
    { text: "b" },
    { id: 10 },
  ]);
});

Deno.test("partitionSpecial() matches user-defined tokens even without special parsing", () => {
  assert.deepEqual(partitionSpecial("x<tool><s>", SPECIALS, false), [
    { text: "x" },
    { id: 11 },
    { text: "<s>" },
  ]);
  assert.deepEqual(partitionSpecial("", SPECIALS, true), []);
});

Deno.test("partitionSpecial() tries longer tokens first", () => {
  const specials: SpecialToken[] = [
    { id: 1, text: "<a><b>", needsParseSpecial: true },
    { id: 2, text: "<a>", needsParseSpecial: true },
  ];
  assert.deepEqual(partitionSpecial("<a><b><a>", specials, true), [{ id: 1 }, { id: 2 }]);
});
