/**
 * Test helpers: tokenizers of the shared test models and the oracle file.
 *
 * @module
 */

import { openGguf } from "../../src/gguf/reader.ts";
import { tokenizerFromMetadata } from "../../src/tokenizer/from_metadata.ts";
import type { Tokenizer } from "../../src/tokenizer/tokenizer.ts";

/** Path of a file under ../shared (tests may read it; the product never does). */
export function sharedPath(relative: string): string {
  return new URL(`../../../shared/${relative}`, import.meta.url).pathname;
}

const cache = new Map<string, Promise<Tokenizer>>();

/** The tokenizer of `../shared/models/<name>`, loaded once per test process. */
export function modelTokenizer(name: string): Promise<Tokenizer> {
  let tokenizer = cache.get(name);
  if (!tokenizer) {
    tokenizer = (async () => {
      const file = await openGguf(sharedPath(`models/${name}`));
      try {
        return tokenizerFromMetadata(file.metadata);
      } finally {
        file.close();
      }
    })();
    cache.set(name, tokenizer);
  }
  return tokenizer;
}

/** One recorded tokenization. */
export interface OracleCase {
  text: string;
  ids: number[];
}

/** The recorded tokenizations of `../shared/oracle/oracle-stories260K.json`. */
export interface TokenizationOracle {
  stories260K: OracleCase[];
  llama2: OracleCase[];
  parseSpecial: {
    text: string;
    ids_parse_special_true: number[];
    ids_no_bos_no_parse_special: number[];
  };
}

/** Reads the tokenization part of the oracle file. */
export function readOracle(): TokenizationOracle {
  const oracle = JSON.parse(Deno.readTextFileSync(sharedPath("oracle/oracle-stories260K.json")));
  return {
    stories260K: oracle.tokenization.cases,
    llama2: oracle.random_model.tokenization_llama2_vocab,
    parseSpecial: oracle.tokenization.parse_special_example,
  };
}
