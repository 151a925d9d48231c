/**
 * Pre-tokenizers of byte-level BPE vocabularies: the regular expressions that
 * cut text into words before merging, selected by `tokenizer.ggml.pre` the
 * way llama.cpp selects them. Each expression splits every current chunk into
 * its matches and the text between them (which is kept), in order; chunk ends
 * act as text ends for lookaheads.
 *
 * `\s` is llama.cpp's whitespace set (ASCII whitespace, U+0085, U+00A0,
 * U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000), not
 * JavaScript's, which differs in U+0085 and U+FEFF.
 *
 * @module
 */

import { UnsupportedError } from "../errors.ts";

/** The pre-tokenizer families implemented. */
export type PreTokenizerKind = "default" | "gpt2" | "llama3" | "qwen2";

/** `tokenizer.ggml.pre` names accepted, and the family each selects. */
export const PRE_TOKENIZER_NAMES: ReadonlyMap<string, PreTokenizerKind> = new Map([
  ["default", "default"],
  ["gpt2", "gpt2"],
  ["gpt-2", "gpt2"],
  ["phi-2", "gpt2"],
  ["roberta-bpe", "gpt2"],
  ["llama3", "llama3"],
  ["llama-v3", "llama3"],
  ["llama-bpe", "llama3"],
  ["falcon3", "llama3"],
  ["qwen2", "qwen2"],
  ["deepseek-r1-qwen", "qwen2"],
]);

const WS = "\\t\\n\\v\\f\\r \\x85\\xA0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000";
const S = `[${WS}]`;
const NOT_S = `[^${WS}]`;
const OTHER = `[^${WS}\\p{L}\\p{N}]`;

const GPT2 = `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?${OTHER}+|${S}+(?!${NOT_S})`;

/** Llama 3 and Qwen 2 differ only in how many digits one word holds. */
function llama3Style(digits: string): string {
  return `'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]` +
    `|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}${digits}| ?${OTHER}+[\\r\\n]*` +
    `|${S}*[\\r\\n]+|${S}+(?!${NOT_S})|${S}+`;
}

const EXPRESSIONS: Readonly<Record<PreTokenizerKind, readonly string[]>> = {
  // llama.cpp's fallback chain for "default": punctuation runs, GPT-2 words,
  // digit runs, then runs of three ASCII digits.
  default: ["[\\p{P}$+<=>^~|]+", GPT2, "\\p{N}+", "[0-9][0-9][0-9]"],
  gpt2: [GPT2],
  llama3: [llama3Style("{1,3}")],
  qwen2: [llama3Style("")],
};

const REGEXES: Readonly<Record<PreTokenizerKind, readonly RegExp[]>> = {
  default: EXPRESSIONS.default.map((e) => new RegExp(e, "gu")),
  gpt2: EXPRESSIONS.gpt2.map((e) => new RegExp(e, "gu")),
  llama3: EXPRESSIONS.llama3.map((e) => new RegExp(e, "gu")),
  qwen2: EXPRESSIONS.qwen2.map((e) => new RegExp(e, "gu")),
};

/**
 * The pre-tokenizer family for a `tokenizer.ggml.pre` value.
 *
 * @example Llama 3's name
 * ```ts
 * import assert from "node:assert/strict";
 * import { preTokenizerKind } from "./pre_tokenizer.ts";
 * assert.ok(preTokenizerKind("llama-bpe") === "llama3");
 * assert.ok(preTokenizerKind(undefined) === "default");
 * ```
 *
 * @param name the value, or undefined when the key is absent (llama.cpp then uses `default`)
 * @returns the family
 * @throws {UnsupportedError} for a name not in {@linkcode PRE_TOKENIZER_NAMES}
 */
export function preTokenizerKind(name: string | undefined): PreTokenizerKind {
  if (name === undefined || name === "") return "default";
  const kind = PRE_TOKENIZER_NAMES.get(name);
  if (kind === undefined) {
    const known = [...PRE_TOKENIZER_NAMES.keys()].map((k) => `"${k}"`).join(", ");
    throw new UnsupportedError(
      `Cannot build tokenizer: pre-tokenizer "${name}" (tokenizer.ggml.pre) is not supported (supported: ${known})`,
    );
  }
  return kind;
}

/**
 * Splits `text` into the words BPE merges within.
 *
 * @example Llama 3 keeps at most three digits together
 * ```ts
 * import assert from "node:assert/strict";
 * import { preTokenize } from "./pre_tokenizer.ts";
 * assert.ok(preTokenize("x 12345", "llama3").join("|") === "x| |123|45");
 * ```
 *
 * @param text the text (no special tokens)
 * @param kind the pre-tokenizer family
 * @returns the words, in order; they concatenate to `text`
 */
export function preTokenize(text: string, kind: PreTokenizerKind): string[] {
  let chunks = [text];
  for (const regex of REGEXES[kind]) chunks = splitChunks(chunks, regex);
  return chunks;
}

/** Splits each chunk into matches of `regex` and the non-empty text between them. */
function splitChunks(chunks: readonly string[], regex: RegExp): string[] {
  const out: string[] = [];
  for (const chunk of chunks) {
    let last = 0;
    regex.lastIndex = 0;
    for (let m = regex.exec(chunk); m !== null; m = regex.exec(chunk)) {
      if (m.index > last) out.push(chunk.slice(last, m.index));
      out.push(m[0]);
      last = m.index + m[0].length;
    }
    if (last < chunk.length) out.push(chunk.slice(last));
  }
  return out;
}
