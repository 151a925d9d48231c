/**
 * llama.cpp's tokenizer test vectors stored beside each vocabulary in
 * `../shared/vocab/` (`NAME.gguf.inp` strings, `NAME.gguf.out` ids).
 *
 * @module
 */

import assert from "node:assert/strict";
import { sharedPath } from "./_shared.ts";

const SEPARATOR = "\n__ggml_vocab_test__\n";

/** The vocabulary files that have test vectors, by file name. */
export function vectorVocabs(): string[] {
  return [...Deno.readDirSync(sharedPath("vocab"))]
    .map((e) => e.name)
    .filter((n) => n.endsWith(".gguf") && exists(sharedPath(`vocab/${n}.out`)))
    .sort();
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The test strings of `NAME.gguf.inp` with the ids of the matching `.out` lines. */
export function readVectors(name: string): { text: string; ids: number[] }[] {
  const texts = Deno.readTextFileSync(sharedPath(`vocab/${name}.inp`)).split(
    SEPARATOR,
  );
  // The file ends with a separator line; the piece after it is empty.
  if (texts.at(-1) === "" || texts.at(-1) === "\n") texts.pop();
  const lines = Deno.readTextFileSync(sharedPath(`vocab/${name}.out`)).split(
    "\n",
  );
  if (lines.at(-1) === "") lines.pop();
  assert.equal(
    texts.length,
    lines.length,
    `${name}: .inp and .out differ in length`,
  );
  return texts.map((text, i) => ({
    text,
    ids: lines[i]!.trim() === "" ? [] : lines[i]!.trim().split(/\s+/).map(Number),
  }));
}
