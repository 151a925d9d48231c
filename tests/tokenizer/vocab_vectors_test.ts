/**
 * llama.cpp's own tokenizer test vectors for every real vocabulary in
 * `../shared/vocab/`: each `.inp` string must give exactly the ids of the
 * matching `.out` line (no BOS, no special parsing).
 */
import assert from "node:assert/strict";
import { openGguf } from "../../src/gguf/reader.ts";
import { tokenizerFromMetadata } from "../../src/tokenizer/from_metadata.ts";
import { sharedPath } from "./_shared.ts";
import { readVectors, vectorVocabs } from "./_vectors.ts";

for (const name of vectorVocabs()) {
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
      const got = tokenizer.encode(text, {
        addBos: false,
        parseSpecial: false,
      });
      if (got.join(" ") !== ids.join(" ")) {
        failures.push(
          `${JSON.stringify(text)}\n  want ${ids.join(" ")}\n  got  ${got.join(" ")}`,
        );
      }
    }
    assert.equal(failures.length, 0, failures.slice(0, 5).join("\n"));
  });
}
