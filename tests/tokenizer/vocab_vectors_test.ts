/**
 * llama.cpp's own tokenizer test vectors for every real vocabulary in
 * `../shared/vocab/`: each `.inp` string must give exactly the ids of the
 * matching `.out` line (no BOS, no special parsing).
 */
import assert from "node:assert/strict";
import { openGguf } from "../../src/gguf/reader.ts";
import { tokenizerFromMetadata } from "../../src/tokenizer/from_metadata.ts";
import { sharedPath } from "./_shared.ts";

const SEPARATOR = "\n__ggml_vocab_test__\n";

/** The vocabulary files with test vectors, by file name. */
function vocabNames(): string[] {
  return [...Deno.readDirSync(sharedPath("vocab"))]
    .map((e) => e.name)
    .filter((n) => n.endsWith(".gguf") && existsSync(sharedPath(`vocab/${n}.out`)))
    .sort();
}

function existsSync(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The test strings of `NAME.gguf.inp`, in order. */
export function readVectors(name: string): { text: string; ids: number[] }[] {
  const inp = Deno.readTextFileSync(sharedPath(`vocab/${name}.inp`));
  const texts = inp.split(SEPARATOR);
  // The file ends with a separator line; the piece after it is empty.
  if (texts.at(-1) === "" || texts.at(-1) === "\n") texts.pop();
  const lines = Deno.readTextFileSync(sharedPath(`vocab/${name}.out`)).split("\n");
  if (lines.at(-1) === "") lines.pop();
  assert.equal(texts.length, lines.length, `${name}: .inp and .out differ in length`);
  return texts.map((text, i) => ({
    text,
    ids: lines[i]!.trim() === "" ? [] : lines[i]!.trim().split(/\s+/).map(Number),
  }));
}

for (const name of vocabNames()) {
  Deno.test(`${name}: every llama.cpp test vector reproduces`, async () => {
    const file = await openGguf(sharedPath(`vocab/${name}`));
    const tokenizer = (() => {
      try {
        return tokenizerFromMetadata(file.metadata);
      } finally {
        file.close();
      }
    })();
    const failures: string[] = [];
    for (const { text, ids } of readVectors(name)) {
      const got = tokenizer.encode(text, { addBos: false, parseSpecial: false });
      if (got.join(" ") !== ids.join(" ")) {
        failures.push(`${JSON.stringify(text)}\n  want ${ids.join(" ")}\n  got  ${got.join(" ")}`);
      }
    }
    assert.equal(failures.length, 0, failures.slice(0, 5).join("\n"));
  });
}
