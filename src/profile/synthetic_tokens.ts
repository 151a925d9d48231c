/**
 * Synthetic prompt tokens for speed tests, as llama-bench uses: speed does not
 * depend on which tokens run, so a seeded pseudo-random sequence stands in for
 * text of any length.
 *
 * @module
 */

/** Options of {@linkcode syntheticTokens}. */
export interface SyntheticTokenOptions {
  /** Vocabulary size: ids are drawn from [0, nVocab). */
  readonly nVocab: number;
  /** Put this id first (the BOS of a sequence that starts at position 0). */
  readonly bos?: number | undefined;
  /** Ids never drawn (BOS, EOS). */
  readonly exclude?: readonly number[];
  /** Seed of the sequence; the same seed gives the same tokens. */
  readonly seed: number;
}

/**
 * `n` pseudo-random token ids (mulberry32), optionally starting with BOS.
 *
 * @param n number of tokens
 * @param options vocabulary size, BOS, excluded ids and seed
 * @returns the token ids
 * @throws {RangeError} when the vocabulary leaves no id to draw
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { syntheticTokens } from "./synthetic_tokens.ts";
 * const ids = syntheticTokens(4, { nVocab: 512, bos: 1, exclude: [1, 2], seed: 7 });
 * assert.equal(ids.length, 4);
 * assert.equal(ids[0], 1);
 * assert.ok(ids.slice(1).every((id) => id > 2 && id < 512));
 * assert.deepEqual(syntheticTokens(4, { nVocab: 512, bos: 1, exclude: [1, 2], seed: 7 }), ids);
 * ```
 */
export function syntheticTokens(n: number, options: SyntheticTokenOptions): number[] {
  const excluded = new Set(options.exclude ?? []);
  if (excluded.size >= options.nVocab) {
    throw new RangeError(`Cannot draw tokens from a vocabulary of ${options.nVocab}`);
  }
  let state = options.seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const tokens: number[] = [];
  if (options.bos !== undefined && n > 0) tokens.push(options.bos);
  while (tokens.length < n) {
    const id = Math.floor(next() * options.nVocab);
    if (!excluded.has(id)) tokens.push(id);
  }
  return tokens;
}

/**
 * What a model's synthetic prompts draw from: every id of its vocabulary but
 * BOS and EOS, with BOS (0 for a vocabulary without one) to start a sequence.
 *
 * @param tokenizer the model's tokenizer (its BOS and EOS ids)
 * @param nVocab the vocabulary size
 * @returns the options of {@linkcode syntheticTokens} but the seed, and the BOS id
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { promptVocabulary } from "./synthetic_tokens.ts";
 * assert.deepEqual(promptVocabulary({ bosId: 1, eosId: 2 }, 512), { nVocab: 512, exclude: [1, 2], bos: 1 });
 * ```
 */
export function promptVocabulary(
  tokenizer: { readonly bosId: number | undefined; readonly eosId: number | undefined },
  nVocab: number,
): { nVocab: number; exclude: number[]; bos: number } {
  const exclude = [tokenizer.bosId, tokenizer.eosId].filter((id): id is number => id !== undefined);
  return { nVocab, exclude, bos: tokenizer.bosId ?? 0 };
}
