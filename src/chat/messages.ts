/**
 * Chat messages: the `{role, content}` list a chat template renders, and the
 * parser for `--chat-messages FILE`.
 *
 * @module
 */

import { UsageError } from "../errors.ts";

/** One message of a conversation. */
export interface ChatMessage {
  /** `system`, `user`, `assistant` or any role the template knows. */
  readonly role: string;
  /** The message text. */
  readonly content: string;
}

/**
 * Parses a JSON list of `{role, content}` messages.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseChatMessages } from "./messages.ts";
 * assert.ok(parseChatMessages('[{"role":"user","content":"Hi"}]', "m.json")[0]!.content === "Hi");
 * ```
 *
 * @param json the file's text
 * @param source the file name, for messages
 * @returns the messages, in order
 * @throws {UsageError} if it is not a non-empty list of objects with string `role` and `content`
 */
export function parseChatMessages(json: string, source: string): ChatMessage[] {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (e) {
    throw new UsageError(`Cannot read chat messages from ${source}: ${(e as Error).message}`);
  }
  if (!Array.isArray(value) || value.length === 0) {
    throw new UsageError(
      `Cannot read chat messages from ${source}: expected a non-empty JSON list of {"role", "content"} objects`,
    );
  }
  return value.map((m, i) => {
    const role = (m as { role?: unknown })?.role;
    const content = (m as { content?: unknown })?.content;
    if (typeof role !== "string" || typeof content !== "string") {
      throw new UsageError(
        `Cannot read chat messages from ${source}: message ${i} needs string "role" and "content"`,
      );
    }
    return { role, content };
  });
}
