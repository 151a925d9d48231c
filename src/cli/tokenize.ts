/**
 * `d2o tokenize -m MODEL [TEXT | -]`: the token ids a model's own tokenizer
 * gives for a text, optionally with each token's piece, as text or JSON.
 *
 * @module
 */

import { Command } from "commander";
import { openGguf } from "../gguf/reader.ts";
import { tokenizerFromMetadata } from "../tokenizer/from_metadata.ts";
import type { Tokenizer } from "../tokenizer/tokenizer.ts";
import { writeStdout } from "./io.ts";
import { readPrompt, type StdinLike } from "./prompt_input.ts";

/** Where the command reads and writes; injectable for tests. */
export interface TokenizeIo {
  /** Writes text to stdout (default: the process's stdout). */
  readonly write?: (text: string) => Promise<void>;
  /** Standard input (default: `Deno.stdin`). */
  readonly stdin?: StdinLike;
}

interface TokenizeOptions {
  model: string;
  file?: string;
  pieces?: boolean;
  json?: boolean;
  bos: boolean;
  parseSpecial?: boolean;
}

/**
 * Builds the `tokenize` subcommand.
 *
 * @param io stdout and stdin replacements for tests
 * @returns the command
 */
export function tokenizeCommand(io: TokenizeIo = {}): Command {
  const write = io.write ?? writeStdout;
  return new Command("tokenize")
    .description("print the token ids a model's tokenizer gives for a text")
    .argument("[text]", "text to tokenize; - (or no text with piped stdin) reads stdin")
    .requiredOption("-m, --model <path>", "path to a .gguf file")
    .option("-f, --file <path>", "read the text from a file")
    .option("--pieces", "show each token's piece next to its id")
    .option("--json", "print one JSON object: ids (and pieces with --pieces)")
    .option("--no-bos", "do not add the BOS token")
    .option("--parse-special", "recognise special tokens such as <s> written in the text")
    .action(async (text: string | undefined, options: TokenizeOptions) => {
      const input = await readPrompt(
        { text, file: options.file },
        io.stdin ? { stdin: io.stdin } : {},
      );
      const file = await openGguf(options.model);
      let tokenizer: Tokenizer;
      try {
        tokenizer = tokenizerFromMetadata(file.metadata);
      } finally {
        file.close();
      }
      const ids = tokenizer.encode(input, {
        parseSpecial: options.parseSpecial ?? false,
        ...(options.bos ? {} : { addBos: false }),
      });
      await write(formatTokens(tokenizer, ids, options));
    });
}

function formatTokens(tokenizer: Tokenizer, ids: number[], options: TokenizeOptions): string {
  const pieces = options.pieces ? ids.map((id) => tokenizer.piece(id)) : undefined;
  if (options.json) return JSON.stringify(pieces ? { ids, pieces } : { ids }) + "\n";
  if (!pieces) return ids.join(" ") + "\n";
  return ids.map((id, i) => `${id}\t${JSON.stringify(pieces[i])}\n`).join("");
}
