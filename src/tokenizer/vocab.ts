/**
 * The plain description a tokenizer is built from: the vocabulary, its
 * per-token scores and types, BPE merges, special ids and flags. It mirrors
 * the `tokenizer.ggml.*` metadata of a GGUF file but depends on nothing else,
 * so tests can build one by hand.
 *
 * @module
 */

/** Tokenizer algorithms this tool implements (values of `tokenizer.ggml.model`). */
export type TokenizerModel = "llama" | "gpt2";

/** The tokenizer models accepted by {@linkcode isTokenizerModel}, for messages. */
export const TOKENIZER_MODELS: readonly TokenizerModel[] = ["llama", "gpt2"];

/**
 * Whether `name` is a tokenizer model this tool implements.
 *
 * @example Checking a model name
 * ```ts
 * import assert from "node:assert/strict";
 * import { isTokenizerModel } from "./vocab.ts";
 * assert.ok(isTokenizerModel("llama") && !isTokenizerModel("bert"));
 * ```
 *
 * @param name a value of `tokenizer.ggml.model`
 * @returns true for `"llama"` and `"gpt2"`
 */
export function isTokenizerModel(name: string): name is TokenizerModel {
  return (TOKENIZER_MODELS as readonly string[]).includes(name);
}

/** Token types as stored in `tokenizer.ggml.token_type` (llama.cpp's `llama_token_type`). */
export const TokenType = {
  /** No type recorded. */
  undefined: 0,
  /** An ordinary piece of text. */
  normal: 1,
  /** The unknown token (`<unk>`). */
  unknown: 2,
  /** A control token such as BOS or EOS; never produced from plain text. */
  control: 3,
  /** A token added by the model's authors; matched in text even without special parsing. */
  userDefined: 4,
  /** A reserved, unused slot. */
  unused: 5,
  /** A byte-fallback token `<0xXX>`. */
  byte: 6,
} as const;

/** One of the {@linkcode TokenType} values. */
export type TokenTypeValue = (typeof TokenType)[keyof typeof TokenType];

/** Everything a tokenizer needs, as plain data (see `tokenizerFromMetadata` for GGUF files). */
export interface TokenizerVocab {
  /** The algorithm: SentencePiece-style (`llama`) or byte-level BPE (`gpt2`). */
  readonly model: TokenizerModel;
  /** Token texts by id (`tokenizer.ggml.tokens`). */
  readonly tokens: readonly string[];
  /** Merge scores by id (`tokenizer.ggml.scores`); used by `llama`. Missing means all 0. */
  readonly scores?: ArrayLike<number> | undefined;
  /** Token types by id (`tokenizer.ggml.token_type`). Missing means all normal. */
  readonly tokenTypes?: ArrayLike<number> | undefined;
  /** BPE merges `"left right"` in rank order (`tokenizer.ggml.merges`); required by `gpt2`. */
  readonly merges?: readonly string[] | undefined;
  /** Pre-tokenizer name (`tokenizer.ggml.pre`); `gpt2` only. Missing means `default`. */
  readonly pre?: string | undefined;
  /** Beginning-of-sequence id; default 1 for `llama`, 11 for `gpt2` (as llama.cpp). */
  readonly bosId?: number | undefined;
  /** End-of-sequence id; default 2 for `llama`, 11 for `gpt2` (as llama.cpp). */
  readonly eosId?: number | undefined;
  /** Unknown-token id; default 0 for `llama`, none for `gpt2`. */
  readonly unkId?: number | undefined;
  /** Padding id, if any. */
  readonly padId?: number | undefined;
  /** End-of-turn id, if any. */
  readonly eotId?: number | undefined;
  /** End-of-message id, if any. */
  readonly eomId?: number | undefined;
  /** Add BOS when encoding; default true for `llama` and Llama 3 pre-tokenizers, else false. */
  readonly addBos?: boolean | undefined;
  /** Add EOS when encoding; default false. */
  readonly addEos?: boolean | undefined;
  /** The model's name (`general.name`): llama.cpp gives Phi-3 special tokens RSTRIP by it. */
  readonly modelName?: string | undefined;
  /** Prepend a space to the text (`llama` dummy prefix); default true for `llama`, false for `gpt2`. */
  readonly addSpacePrefix?: boolean | undefined;
}
