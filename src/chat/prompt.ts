/**
 * The chat prompt of `generate --chat`: which template (`--chat-template`
 * NAME or FILE, else the file's `tokenizer.chat_template`), which messages
 * (`--chat-messages`, `--system`, the prompt as the user turn), and the text
 * they render to.
 *
 * @module
 */

import { InputError, UsageError } from "../errors.ts";
import type { GgufMetadata } from "../gguf/metadata.ts";
import type { Tokenizer } from "../tokenizer/tokenizer.ts";
import { BUILTIN_CHAT_FORMATS } from "./builtin.ts";
import { type ChatMessage, parseChatMessages } from "./messages.ts";
import { JinjaChatTemplate } from "./template.ts";

/** The metadata key of a file's Jinja chat template. */
export const CHAT_TEMPLATE_KEY = "tokenizer.chat_template";

/** The chat flags of `generate`. */
export interface ChatFlags {
  /** `--chat`: the prompt is the user message. */
  readonly chat?: boolean | undefined;
  /** `--system TEXT`. */
  readonly system?: string | undefined;
  /** `--chat-template FILE|NAME`. */
  readonly chatTemplate?: string | undefined;
  /** `--chat-messages FILE`. */
  readonly chatMessages?: string | undefined;
  /** `--chat-date YYYY-MM-DD`. */
  readonly chatDate?: string | undefined;
}

/** Whether any flag asks for a chat prompt. */
export function wantsChat(flags: ChatFlags): boolean {
  return Boolean(flags.chat || flags.chatMessages || flags.chatTemplate) ||
    flags.system !== undefined;
}

/**
 * Parses `--chat-date`; without it, today (the local calendar date).
 *
 * @throws {UsageError} for anything but a real YYYY-MM-DD date
 */
export function chatDate(value: string | undefined, now = new Date()): Date {
  if (value === undefined) {
    return new Date(Date.UTC(now.getFullYear(), now.getMonth(), now.getDate()));
  }
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  const date = m ? new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!)) : undefined;
  if (!date || date.getUTCMonth() !== +m![2]! - 1 || date.getUTCDate() !== +m![3]!) {
    throw new UsageError(`--chat-date: "${value}" is not a date in the form YYYY-MM-DD`);
  }
  return date;
}

/** The messages: `--chat-messages` (or none), `--system` first, the prompt as the last user turn. */
export async function chatMessages(flags: ChatFlags, prompt: string): Promise<ChatMessage[]> {
  const messages = flags.chatMessages
    ? parseChatMessages(await readText(flags.chatMessages, "--chat-messages"), flags.chatMessages)
    : [];
  if (flags.system !== undefined) messages.unshift({ role: "system", content: flags.system });
  if (prompt !== "" || !flags.chatMessages) messages.push({ role: "user", content: prompt });
  return messages;
}

/** A template ready to render: built-in, from a file, or the model's own. */
export interface ResolvedTemplate {
  /** Where it comes from, for messages and `--verbose`. */
  readonly origin: string;
  /** Renders messages. */
  readonly render: (
    messages: readonly ChatMessage[],
    options: { bosToken: string; eosToken: string; date: Date },
  ) => string;
}

/**
 * Picks the template: `--chat-template` (a built-in name, else a file), else
 * the model's `tokenizer.chat_template`.
 *
 * @throws {UsageError} when there is none, or it does not parse
 * @throws {InputError} when the template file cannot be read
 */
export async function resolveTemplate(
  metadata: GgufMetadata,
  override: string | undefined,
): Promise<ResolvedTemplate> {
  const builtin = override === undefined ? undefined : BUILTIN_CHAT_FORMATS.get(override);
  if (builtin) return { origin: `built-in "${override}"`, render: (m) => builtin(m, true) };
  const source = override !== undefined
    ? await readText(override, "--chat-template")
    : metadata.optionalString(CHAT_TEMPLATE_KEY);
  if (source === undefined) {
    throw new UsageError(
      `Cannot build a chat prompt: the model has no chat template (${CHAT_TEMPLATE_KEY}); ` +
        `give --chat-template FILE or one of ${[...BUILTIN_CHAT_FORMATS.keys()].join(", ")}`,
    );
  }
  const origin = override !== undefined ? `template file ${override}` : "the model's template";
  const template = new JinjaChatTemplate(source, origin);
  return {
    origin,
    render: (messages, o) => template.render(messages, { ...o, addGenerationPrompt: true }),
  };
}

/**
 * The whole chat prompt text for `generate`, rendered with the model's BOS
 * and EOS texts.
 *
 * @returns the text exactly as the template wrote it
 */
export async function renderChatPrompt(
  metadata: GgufMetadata,
  tokenizer: Tokenizer,
  flags: ChatFlags,
  prompt: string,
): Promise<string> {
  const template = await resolveTemplate(metadata, flags.chatTemplate);
  const messages = await chatMessages(flags, prompt);
  const text = (id: number | undefined) => id === undefined ? "" : tokenizer.tokenText(id);
  return template.render(messages, {
    bosToken: text(tokenizer.bosId),
    eosToken: text(tokenizer.eosId),
    date: chatDate(flags.chatDate),
  });
}

async function readText(path: string, flag: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    throw new InputError(`${flag}: cannot read ${path}: ${(e as Error).message}`);
  }
}
