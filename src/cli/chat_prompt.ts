/**
 * `generate`'s chat flags applied to the prompt: the text to tokenize (the
 * rendered template, or the prompt as given) and how to tokenize it.
 *
 * @module
 */

import { type ChatFlags, renderChatPrompt, wantsChat } from "../chat/prompt.ts";
import { openGguf } from "../gguf/reader.ts";
import { tokenizerFromMetadata } from "../tokenizer/from_metadata.ts";

/** The prompt as it will be tokenized. */
export interface PromptText {
  /** The exact text after the template (what `--print-prompt` prints). */
  readonly text: string;
  /**
   * The text handed to the tokenizer: `text`, less a leading BOS the
   * tokenizer adds itself (so the prompt never starts with two).
   */
  readonly toTokenize: string;
  /** Whether it came from a chat template (its special tokens are then parsed). */
  readonly chat: boolean;
}

/**
 * Renders the chat prompt when a chat flag is given; otherwise the prompt as is.
 *
 * @param modelPath the GGUF file (its metadata only is read)
 * @param prompt the prompt text (the user message in a chat)
 * @param flags the chat flags
 * @throws {UsageError} for a template that is missing, does not parse or raises an error
 */
export async function promptText(
  modelPath: string,
  prompt: string,
  flags: ChatFlags,
): Promise<PromptText> {
  if (!wantsChat(flags)) return { text: prompt, toTokenize: prompt, chat: false };
  const file = await openGguf(modelPath);
  try {
    const tokenizer = tokenizerFromMetadata(file.metadata);
    const text = await renderChatPrompt(file.metadata, tokenizer, flags, prompt);
    const bos = tokenizer.bosId === undefined ? "" : tokenizer.tokenText(tokenizer.bosId);
    const toTokenize = tokenizer.addBos && bos !== "" && text.startsWith(bos)
      ? text.slice(bos.length)
      : text;
    return { text, toTokenize, chat: true };
  } finally {
    file.close();
  }
}
