/**
 * The rules a prompt and its generation follow, the same for a lone run
 * (`generate`) and for each prompt of a batch (`generate --prompts`): an
 * empty prompt is BOS alone; a prompt must leave room for one generated
 * token; `-n -1` generates until the prompt and the tokens fill the context;
 * a generation ends at an end-of-generation token (unless ignored), a stop
 * string, its token limit, or a full context — and says which.
 *
 * @module
 */

import { LimitError } from "../errors.ts";
import { StopStringFilter } from "../tokenizer/stop_strings.ts";
import type { Tokenizer } from "../tokenizer/tokenizer.ts";

/** Why a generation ended. */
export type StopReason = "eos" | "stop_string" | "max_tokens" | "context_full" | "interrupted";

/**
 * Tokenizes a prompt; an empty one is BOS alone (token 0 for a vocabulary without BOS).
 *
 * @param tokenizer the model's tokenizer
 * @param text the prompt text
 * @param parseSpecial whether special tokens written in the text are recognised
 * @returns the prompt's token ids (at least one)
 */
export function promptTokens(tokenizer: Tokenizer, text: string, parseSpecial: boolean): number[] {
  const tokens = tokenizer.encode(text, { parseSpecial });
  if (tokens.length === 0) tokens.push(tokenizer.bosId ?? 0);
  return tokens;
}

/**
 * Why a prompt cannot run in a context, if it cannot: it needs room for itself
 * and one generated token.
 *
 * @param length the prompt's tokens
 * @param nCtx the context
 * @param nCtxTrain the model's trained context (named in the advice)
 * @param what the prompt as the message names it (default "a prompt")
 * @returns the error to report, or undefined when it fits
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { promptFitError } from "./generation.ts";
 * assert.equal(promptFitError(10, 11, 2048), undefined);
 * assert.match(promptFitError(11, 11, 2048)!.message, /needs at least 12/);
 * ```
 */
export function promptFitError(
  length: number,
  nCtx: number,
  nCtxTrain: number,
  what = "a prompt",
): LimitError | undefined {
  if (length < nCtx) return undefined;
  return new LimitError(
    `Cannot run ${what} of ${length} tokens in a context of ${nCtx}: it needs at least ` +
      `${length + 1} (the prompt and one generated token); shorten it or raise -c/--ctx ` +
      `(the model was trained with ${nCtxTrain})`,
  );
}

/**
 * The most tokens a generation may produce: `nPredict`, or for −1 what the
 * context leaves after the prompt.
 *
 * @param nPredict `-n`/`n_predict` (−1 = until the context is full)
 * @param promptLength the prompt's tokens
 * @param nCtx the context
 * @returns a count ≥ 0
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tokenLimit } from "./generation.ts";
 * assert.deepEqual([tokenLimit(5, 10, 64), tokenLimit(-1, 10, 64)], [5, 54]);
 * ```
 */
export function tokenLimit(nPredict: number, promptLength: number, nCtx: number): number {
  return nPredict < 0 ? Math.max(0, nCtx - promptLength) : nPredict;
}

/** What a {@linkcode Generation} follows. */
export interface GenerationOptions {
  /** `-n`/`n_predict` (−1 = until the context is full). */
  readonly nPredict: number;
  /** The most tokens ({@linkcode tokenLimit}). */
  readonly limit: number;
  /** Texts that end it (not printed). */
  readonly stop: readonly string[];
  /** Keep going past end-of-generation tokens. */
  readonly ignoreEos: boolean;
  /** Whether the prompt text was empty (the first piece keeps no leading space). */
  readonly emptyPrompt: boolean;
}

/**
 * One generation followed token by token: its tokens, its text (detokenized,
 * stop strings held back and cut), and why it ends.
 */
export class Generation {
  /** The generated token ids, a final end-of-generation token included. */
  readonly tokens: number[] = [];
  /** The text so far. */
  text = "";
  readonly #tokenizer: Tokenizer;
  readonly #options: GenerationOptions;
  readonly #decoder: ReturnType<Tokenizer["streamDecoder"]>;
  readonly #stops: StopStringFilter;

  /**
   * @param tokenizer the model's tokenizer
   * @param options limit, stop strings, EOS handling and whether the prompt was empty
   */
  constructor(tokenizer: Tokenizer, options: GenerationOptions) {
    this.#tokenizer = tokenizer;
    this.#options = options;
    this.#decoder = tokenizer.streamDecoder({ stripLeadingSpace: options.emptyPrompt });
    this.#stops = new StopStringFilter(options.stop);
  }

  /**
   * Takes the next token: the text it adds, and why the generation ends with
   * it (end of generation, a stop string, or the limit: `max_tokens` for
   * `-n N`, `context_full` for `-n -1`), if it does.
   *
   * @param token the sampled token
   * @returns the new text (empty while held back) and the stop reason, if any
   */
  push(token: number): { piece: string; stop?: StopReason } {
    this.tokens.push(token);
    if (!this.#options.ignoreEos && this.#tokenizer.isEndOfGeneration(token)) {
      return { piece: "", stop: "eos" };
    }
    const piece = this.#stops.push(this.#decoder.push(token));
    this.text += piece;
    if (this.#stops.stopped) return { piece, stop: "stop_string" };
    if (this.tokens.length >= this.#options.limit) return { piece, stop: this.limitReason };
    return { piece };
  }

  /** Why a generation that ran out of tokens ended: `max_tokens` for `-n N`, else `context_full`. */
  get limitReason(): StopReason {
    return this.#options.nPredict >= 0 ? "max_tokens" : "context_full";
  }

  /**
   * Ends the generation: the text the detokenizer and the stop filter still
   * hold (nothing after a stop string), added to {@linkcode text}.
   *
   * @param reason why it ended
   * @returns the tail
   */
  finish(reason: StopReason): string {
    if (reason === "stop_string") return "";
    const tail = this.#stops.push(this.#decoder.flush()) + this.#stops.flush();
    this.text += tail;
    return tail;
  }
}
