/**
 * llama.cpp's rules for the end-of-generation set and the special tokens it
 * finds by their text: `<|eot_id|>`, `<|im_end|>`, `<|end|>`, `<end_of_turn>`
 * and the like end a turn whatever the file says, the FIM tokens too, and
 * every such token counts as a control token (so it is parsed from text only
 * with special parsing, and hidden when decoding without `special`).
 *
 * @module
 */

import { TokenType } from "./vocab.ts";

/** Texts llama.cpp takes as the end-of-turn token when the file names none. */
const EOT_TEXTS = [
  "<|eot_id|>",
  "<|im_end|>",
  "<|end|>",
  "<end_of_turn>",
  "<|endoftext|>",
  "<|end_of_text|>",
  "<EOT>",
  "_<EOT>",
  "<｜end▁of▁sentence｜>",
  "<end_of_utterance>",
];

/** Texts that end generation wherever they sit in the vocabulary. */
const EOG_TEXTS = new Set([
  "<|eot_id|>",
  "<|im_end|>",
  "<|end|>",
  "<|return|>",
  "<|call|>",
  "<end_of_turn>",
  "<|endoftext|>",
  "<|eom_id|>",
  "<EOT>",
  "_<EOT>",
  "<|end_of_text|>",
  "<end_of_utterance>",
  "</s>",
]);

/** Fill-in-the-middle tokens llama.cpp finds by text; the last three also end generation. */
const FIM_TEXTS = {
  pre: [
    "<|fim_prefix|>",
    "<fim-prefix>",
    "<fim_prefix>",
    "<｜fim▁begin｜>",
    "<PRE>",
    "▁<PRE>",
  ],
  suf: [
    "<|fim_suffix|>",
    "<fim-suffix>",
    "<fim_suffix>",
    "<｜fim▁hole｜>",
    "<SUF>",
    "▁<SUF>",
  ],
  mid: [
    "<|fim_middle|>",
    "<fim-middle>",
    "<fim_middle>",
    "<｜fim▁end｜>",
    "<MID>",
    "▁<MID>",
  ],
  pad: ["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>"],
  rep: ["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"],
  sep: ["<|file_sep|>"],
} as const;

/** The special ids a vocabulary ends up with. */
export interface EndOfGeneration {
  /** End-of-turn id: the file's, else the first token with an end-of-turn text. */
  readonly eotId: number | undefined;
  /** End-of-message id: the file's, else `<|eom_id|>`. */
  readonly eomId: number | undefined;
  /** Every id that ends generation, ascending. */
  readonly ids: readonly number[];
}

/**
 * Applies llama.cpp's text rules: finds end-of-turn, end-of-message and FIM
 * tokens the file does not name, marks each found token as control in
 * `types` (in place), and collects the end-of-generation set.
 *
 * @example Llama 3's end-of-turn token is found by its text
 * ```ts
 * import assert from "node:assert/strict";
 * import { endOfGeneration } from "./end_of_generation.ts";
 * const ids = new Map([["<|end_of_text|>", 0], ["<|eot_id|>", 1]]);
 * const eog = endOfGeneration(ids, new Uint8Array([3, 3]), { eosId: 0 });
 * assert.ok(eog.eotId === 0 && eog.ids.join() === "0,1");
 * ```
 *
 * @param ids token text to id
 * @param types token types by id; found tokens become control
 * @param named the ids the file names (already range-checked)
 * @returns the end-of-turn and end-of-message ids and the end-of-generation set
 */
export function endOfGeneration(
  ids: ReadonlyMap<string, number>,
  types: Uint8Array,
  named: {
    eosId?: number | undefined;
    eotId?: number | undefined;
    eomId?: number | undefined;
  },
): EndOfGeneration {
  const find = (texts: readonly string[]): number | undefined => {
    let found: number | undefined;
    for (const text of texts) {
      const id = ids.get(text);
      if (id !== undefined && (found === undefined || id < found)) found = id;
    }
    if (found !== undefined) types[found] = TokenType.control;
    return found;
  };
  const eotId = named.eotId ?? find(EOT_TEXTS);
  const eomId = named.eomId ?? find(["<|eom_id|>"]);
  const fim = Object.values(FIM_TEXTS).map((texts) => find(texts));
  const eog = new Set<number>();
  for (const id of fim.slice(3)) if (id !== undefined) eog.add(id);
  for (const text of EOG_TEXTS) {
    const id = ids.get(text);
    if (id === undefined) continue;
    eog.add(id);
    types[id] = TokenType.control;
  }
  for (const id of [named.eosId, eotId, eomId]) {
    if (id !== undefined) eog.add(id);
  }
  // o200k_harmony: with <|return|> and <|call|> present, <|end|> does not end generation.
  const end = ids.get("<|end|>");
  if (end !== undefined && ids.has("<|return|>") && ids.has("<|call|>")) {
    eog.delete(end);
    types[end] = TokenType.userDefined;
  }
  return { eotId, eomId, ids: [...eog].sort((a, b) => a - b) };
}
