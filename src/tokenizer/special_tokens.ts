/**
 * Cuts text into plain-text fragments and special tokens written out inside
 * it, as llama.cpp's `tokenizer_st_partition` does: special tokens are tried
 * longest text first, and each one splits every remaining text fragment at
 * all its occurrences, left to right.
 *
 * @module
 */

/** A piece of the input: plain text to encode, or one special token. */
export type Fragment =
  | { readonly text: string; readonly id?: undefined }
  | { readonly text?: undefined; readonly id: number };

/** A token that can be written out in text, and whether it needs special parsing. */
export interface SpecialToken {
  /** Token id. */
  readonly id: number;
  /** Its text, e.g. `<s>`. */
  readonly text: string;
  /** Control and unknown tokens match only when special parsing is on; user-defined ones always. */
  readonly needsParseSpecial: boolean;
  /** Whitespace right after the token is dropped (llama.cpp's RSTRIP attribute). */
  readonly rstrip?: boolean;
}

/** C's `isspace` in the "C" locale, which llama.cpp's RSTRIP uses. */
const SPACE = /[ \t\n\v\f\r]/;

/**
 * Splits `text` at the special tokens it contains.
 *
 * @example Only with special parsing
 * ```ts
 * import assert from "node:assert/strict";
 * import { partitionSpecial } from "./special_tokens.ts";
 * const specials = [{ id: 1, text: "<s>", needsParseSpecial: true }];
 * assert.ok(partitionSpecial("a<s>b", specials, true).length === 3);
 * assert.ok(partitionSpecial("a<s>b", specials, false).length === 1);
 * ```
 *
 * @param text the input
 * @param specials candidate tokens, longest text first
 * @param parseSpecial whether control and unknown tokens are recognised
 * @returns the fragments in order; no text fragment is empty
 */
export function partitionSpecial(
  text: string,
  specials: readonly SpecialToken[],
  parseSpecial: boolean,
): Fragment[] {
  let fragments: Fragment[] = text === "" ? [] : [{ text }];
  for (const special of specials) {
    if (special.needsParseSpecial && !parseSpecial) continue;
    if (special.text === "" || !text.includes(special.text)) continue;
    const next: Fragment[] = [];
    for (const fragment of fragments) {
      if (fragment.text === undefined) {
        next.push(fragment);
        continue;
      }
      let from = 0;
      for (let at = fragment.text.indexOf(special.text); at >= 0;) {
        if (at > from) next.push({ text: fragment.text.slice(from, at) });
        next.push({ id: special.id });
        from = at + special.text.length;
        if (special.rstrip) {
          while (
            from < fragment.text.length && SPACE.test(fragment.text[from]!)
          ) from++;
        }
        at = fragment.text.indexOf(special.text, from);
      }
      if (from < fragment.text.length) {
        next.push({ text: fragment.text.slice(from) });
      }
    }
    fragments = next;
  }
  return fragments;
}
