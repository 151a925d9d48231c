/**
 * Differential tokenization: d2o and llama.cpp on every shared vocabulary,
 * with special parsing on and off, their end-of-generation sets, and every
 * pre-tokenizer name on a real vocabulary.
 */
import assert from "node:assert/strict";
import { PRE_TOKENIZERS } from "../../src/tokenizer/pre_tokenizer.ts";
import { llamaCppRelease, loadVocab } from "./_llama.ts";
import { Tokenizer } from "../../src/tokenizer/tokenizer.ts";
import {
  ourTokenizer,
  ourVocab,
  sharedVocabs,
  SPECIAL_STRINGS,
  stringsFor,
  withPre,
} from "./_vocab.ts";
import { sharedPath } from "../tokenizer/_shared.ts";
import { readVectors } from "../tokenizer/_vectors.ts";

const NATIVE = { sanitizeOps: false, sanitizeResources: false } as const;

/** Tokenizes every string both ways; returns the differences, described. */
async function compare(
  path: string,
  strings: readonly string[],
  ours?: Tokenizer,
): Promise<string[]> {
  ours ??= await ourTokenizer(path);
  const theirs = await loadVocab(path);
  const failures: string[] = [];
  try {
    for (const special of [false, true]) {
      for (const text of strings) {
        const want = theirs.tokenize(text, special).join(" ");
        const got = ours.encode(text, { addBos: false, parseSpecial: special })
          .join(" ");
        if (got !== want) {
          failures.push(
            `special=${special} ${JSON.stringify(text)}\n  llama.cpp ${want}\n  d2o       ${got}`,
          );
        }
      }
    }
    const eog: number[] = [];
    for (let id = 0; id < ours.size; id++) {
      if (theirs.isEogToken(id)) eog.push(id);
    }
    if (eog.join() !== ours.endOfGenerationIds.join()) {
      failures.push(
        `end of generation: llama.cpp ${eog} d2o ${ours.endOfGenerationIds}`,
      );
    }
    if ((theirs.tokens.bos ?? undefined) !== ours.bosId) {
      failures.push(`BOS: llama.cpp ${theirs.tokens.bos} d2o ${ours.bosId}`);
    }
  } finally {
    await theirs.dispose();
  }
  return failures;
}

for (const name of sharedVocabs()) {
  Deno.test({
    name: `${name}: d2o tokenizes like llama.cpp, special parsing on and off, same EOG set`,
    ...NATIVE,
    async fn() {
      const failures = await compare(
        sharedPath(`vocab/${name}`),
        stringsFor(name),
      );
      assert.equal(failures.length, 0, failures.slice(0, 6).join("\n"));
    },
  });
}

/**
 * Every accepted name on the Llama 3 vocabulary, and one name per distinct
 * behaviour on the Qwen 2 vocabulary (most names have no shared file of their own).
 */
Deno.test({
  name: "every pre-tokenizer name tokenizes like llama.cpp on real vocabularies",
  ...NATIVE,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "d2o-pre-" });
    const distinct = new Map(
      [...PRE_TOKENIZERS].map(([name, spec]) => [spec, name]),
    );
    const names = {
      "ggml-vocab-llama-bpe.gguf": [...PRE_TOKENIZERS.keys()],
      "ggml-vocab-qwen2.gguf": [...distinct.values()],
    };
    try {
      for (const [base, pres] of Object.entries(names)) {
        const strings = [
          ...readVectors(base).map((v) => v.text),
          ...SPECIAL_STRINGS,
        ];
        const vocab = await ourVocab(sharedPath(`vocab/${base}`));
        for (const pre of pres) {
          await t.step(`${pre} on ${base}`, async () => {
            const path = await withPre(sharedPath(`vocab/${base}`), pre, dir);
            const failures = await compare(
              path,
              strings,
              new Tokenizer({ ...vocab, pre }),
            );
            assert.equal(failures.length, 0, failures.slice(0, 4).join("\n"));
          });
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("the README records the llama.cpp release the pinned node-llama-cpp bundles", () => {
  const [repo, tag] = llamaCppRelease().split("@");
  const readme = Deno.readTextFileSync(new URL("../../README.md", import.meta.url));
  assert.ok(readme.includes(`llama.cpp release \`${tag}\``) && readme.includes(`(\`${repo}\``));
});
