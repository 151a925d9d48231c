/**
 * `d2o info MODEL.gguf`: what a model file holds — architecture, shapes,
 * tokenizer, parameter count and tensor types, whether it carries a chat
 * template and which tokens end generation — as text or one JSON object.
 *
 * @module
 */

import { Command } from "commander";
import { CHAT_TEMPLATE_KEY } from "../chat/prompt.ts";
import type { GgufMetadata } from "../gguf/metadata.ts";
import { openGguf } from "../gguf/reader.ts";
import { describeModel, formatModelInfo } from "../model/model_info.ts";
import { tokenizerFromMetadata } from "../tokenizer/from_metadata.ts";
import { writeStdout } from "./io.ts";

/** The chat side of a file: its template and its end-of-generation tokens. */
export interface ChatInfo {
  /** Characters of `tokenizer.chat_template`; null when the file has none. */
  chatTemplateLength: number | null;
  /** Tokens that end generation (llama.cpp's set); null when the tokenizer is not supported. */
  endOfGeneration: { id: number; text: string }[] | null;
}

/** Builds the `info` subcommand. */
export function infoCommand(): Command {
  return new Command("info")
    .description(
      "print a GGUF model's architecture, shapes, tokenizer, chat template and tensor types",
    )
    .argument("<model>", "path to a .gguf file")
    .option("--json", "print one JSON object")
    .action(async (model: string, options: { json?: boolean }) => {
      const file = await openGguf(model);
      try {
        const info = describeModel(file);
        const chat = chatInfo(file.metadata);
        await writeStdout(
          options.json
            ? JSON.stringify({ ...info, ...chat }, null, 2) + "\n"
            : formatModelInfo(info) + formatChatInfo(chat),
        );
      } finally {
        file.close();
      }
    });
}

/** Reads the chat template's presence and the end-of-generation set. */
export function chatInfo(metadata: GgufMetadata): ChatInfo {
  const template = metadata.optionalString(CHAT_TEMPLATE_KEY);
  let endOfGeneration: ChatInfo["endOfGeneration"] = null;
  try {
    const tokenizer = tokenizerFromMetadata(metadata);
    endOfGeneration = tokenizer.endOfGenerationIds.map((id) => ({
      id,
      text: tokenizer.tokenText(id),
    }));
  } catch {
    // An unsupported or missing vocabulary: the tokenizer line above already says which.
  }
  return { chatTemplateLength: template?.length ?? null, endOfGeneration };
}

/** The chat lines of the text view. */
export function formatChatInfo(chat: ChatInfo): string {
  const template = chat.chatTemplateLength === null
    ? "none (generate --chat needs --chat-template)"
    : `yes (${chat.chatTemplateLength} characters)`;
  const eog = chat.endOfGeneration === null
    ? "unknown (tokenizer not supported)"
    : chat.endOfGeneration.map((t) => `${t.id} ${JSON.stringify(t.text)}`).join(", ");
  return `\nchat:\n  template           ${template}\n  end of generation  ${eog}\n`;
}
