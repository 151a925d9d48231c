/**
 * The vocabularies and strings the differential suite tokenizes: every file
 * of `../shared/vocab/` with llama.cpp's test strings, plus strings with
 * special tokens written out, and copies of a real vocabulary under another
 * `tokenizer.ggml.pre` name for the pre-tokenizers no shared file carries.
 *
 * @module
 */

import { openGguf } from "../../src/gguf/reader.ts";
import { GgufValueType } from "../../src/gguf/types.ts";
import { writeGguf } from "../../src/gguf/writer.ts";
import { tokenizerFromMetadata, vocabFromMetadata } from "../../src/tokenizer/from_metadata.ts";
import type { TokenizerVocab } from "../../src/tokenizer/vocab.ts";
import type { Tokenizer } from "../../src/tokenizer/tokenizer.ts";
import { readVectors } from "../tokenizer/_vectors.ts";
import { sharedPath } from "../tokenizer/_shared.ts";

/** The vocabulary files of `../shared/vocab/` that have test strings. */
export function sharedVocabs(): string[] {
  return [...Deno.readDirSync(sharedPath("vocab"))]
    .map((e) => e.name)
    .filter((n) => n.endsWith(".gguf"))
    .sort();
}

/** Strings with special tokens and chat markup, for special parsing on and off. */
export const SPECIAL_STRINGS: readonly string[] = [
  "<s>Hello</s>",
  "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>",
  "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n",
  "<|endoftext|> <|end|> <end_of_turn> <|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>",
  "[INST] Hello [/INST] ok</s><unk>",
  "<｜begin▁of▁sentence｜><｜User｜>hi<｜Assistant｜>",
  "x<|eom_id|>y<|python_tag|>z <|reserved_special_token_5|>",
];

/** llama.cpp's test strings of a shared vocabulary, plus {@linkcode SPECIAL_STRINGS}. */
export function stringsFor(name: string): string[] {
  return [...readVectors(name).map((v) => v.text), ...SPECIAL_STRINGS];
}

/** Our tokenizer of a GGUF file. */
export async function ourTokenizer(path: string): Promise<Tokenizer> {
  const file = await openGguf(path);
  try {
    return tokenizerFromMetadata(file.metadata);
  } finally {
    file.close();
  }
}

/** The plain vocabulary of a GGUF file (to build tokenizers with another pre-tokenizer). */
export async function ourVocab(path: string): Promise<TokenizerVocab> {
  const file = await openGguf(path);
  try {
    return vocabFromMetadata(file.metadata);
  } finally {
    file.close();
  }
}

/**
 * Writes a copy of a vocabulary-only file with `tokenizer.ggml.pre` set to `pre`.
 *
 * @returns the new file's path
 */
export async function withPre(
  source: string,
  pre: string,
  dir: string,
): Promise<string> {
  const file = await openGguf(source);
  const metadata = [...file.metadata.entries].filter(([key]) => key !== "general.alignment");
  file.close();
  const index = metadata.findIndex(([key]) => key === "tokenizer.ggml.pre");
  const entry = { type: GgufValueType.STRING, value: pre } as const;
  if (index >= 0) metadata[index] = ["tokenizer.ggml.pre", entry];
  else metadata.push(["tokenizer.ggml.pre", entry]);
  const path = `${dir}/${pre}.gguf`;
  await writeGguf(path, { metadata, tensors: [] });
  return path;
}
