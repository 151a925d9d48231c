/**
 * llama.cpp's built-in chat formats, by its names, for files that carry no
 * `tokenizer.chat_template` (or to override one): each turns messages into
 * the text llama.cpp's `llama_chat_apply_template` produces for that name.
 *
 * @module
 */

import type { ChatMessage } from "./messages.ts";

/** A chat format: messages to prompt text. */
export type ChatFormat = (messages: readonly ChatMessage[], addGenerationPrompt: boolean) => string;

/** `<|tag|>role\ncontent<|end|>\n` turns, as ChatML, Phi-3 and Zephyr write them. */
function tagged(open: (role: string) => string, end: string): ChatFormat {
  return (messages, add) =>
    messages.map((m) => `${open(m.role)}\n${m.content}${end}\n`).join("") +
    (add ? `${open("assistant")}\n` : "");
}

/** Llama 2's `[INST]` turns; `sys` wraps a system message in `<<SYS>>`. */
function llama2(sys: boolean, bosInside: boolean): ChatFormat {
  return (messages) => {
    let out = "";
    let inTurn = false;
    for (const m of messages) {
      if (!inTurn) {
        out += bosInside ? "<s>[INST] " : "[INST] ";
        inTurn = true;
      }
      if (m.role === "system") {
        out += sys ? `<<SYS>>\n${m.content}\n<</SYS>>\n\n` : `${m.content}\n`;
      } else if (m.role === "user") {
        out += `${m.content} [/INST]`;
      } else {
        out += `${m.content}</s>`;
        inTurn = false;
      }
    }
    return out;
  };
}

/** Mistral's `[INST]` turns in its v1, v3 and v3-tekken spacing. */
function mistral(version: "v1" | "v3" | "v3-tekken"): ChatFormat {
  const lead = version === "v1" ? " " : "";
  const trail = version === "v3-tekken" ? "" : " ";
  return (messages) => {
    let out = "";
    let inTurn = false;
    for (const m of messages) {
      if (!inTurn) {
        out += `${lead}[INST]${trail}`;
        inTurn = true;
      }
      if (m.role === "system") out += `${m.content}\n\n`;
      else if (m.role === "user") out += `${m.content}${lead}[/INST]`;
      else {
        out += `${trail}${version === "v3" ? m.content.trim() : m.content}</s>`;
        inTurn = false;
      }
    }
    return out;
  };
}

const llama3: ChatFormat = (messages, add) =>
  messages.map((m) =>
    `<|start_header_id|>${m.role}<|end_header_id|>\n\n${m.content.trim()}<|eot_id|>`
  ).join("") + (add ? "<|start_header_id|>assistant<|end_header_id|>\n\n" : "");

/** Gemma: no system role (its text opens the next user turn); `assistant` is `model`. */
const gemma: ChatFormat = (messages, add) => {
  let out = "";
  let system = "";
  for (const m of messages) {
    if (m.role === "system") {
      system = m.content.trim() + "\n\n";
      continue;
    }
    const role = m.role === "assistant" ? "model" : m.role;
    out += `<start_of_turn>${role}\n${system}${m.content.trim()}<end_of_turn>\n`;
    system = "";
  }
  return out + (add ? "<start_of_turn>model\n" : "");
};

/** The built-in formats by llama.cpp's names (`mistral` is ours: Mistral v3). */
export const BUILTIN_CHAT_FORMATS: ReadonlyMap<string, ChatFormat> = new Map([
  ["chatml", tagged((role) => `<|im_start|>${role}`, "<|im_end|>")],
  ["llama2", llama2(false, false)],
  ["llama2-sys", llama2(true, false)],
  ["llama2-sys-bos", llama2(true, true)],
  ["llama3", llama3],
  ["mistral-v1", mistral("v1")],
  ["mistral-v3", mistral("v3")],
  ["mistral-v3-tekken", mistral("v3-tekken")],
  ["mistral", mistral("v3")],
  ["phi3", tagged((role) => `<|${role}|>`, "<|end|>")],
  ["zephyr", tagged((role) => `<|${role}|>`, "<|endoftext|>")],
  ["gemma", gemma],
]);
