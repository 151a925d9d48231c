/**
 * Where a prompt comes from: the positional argument, `-f/--file`, or stdin
 * (`-`, or when stdin is piped). Never waits on a terminal. The text must be
 * UTF-8: other bytes are refused, never replaced (see `utf8_text.ts`).
 *
 * @module
 */

import { InputError, UsageError } from "../errors.ts";
import { decodeUtf8 } from "./utf8_text.ts";

/** Options that select a prompt source. */
export interface PromptSource {
  /** The positional prompt argument; `-` means stdin. */
  readonly text?: string | undefined;
  /** `-f/--file`: read the prompt from this file (`-` means stdin). */
  readonly file?: string | undefined;
}

/** How to read stdin; injectable for tests. */
export interface StdinLike {
  isTerminal(): boolean;
  readable: ReadableStream<Uint8Array>;
}

/** File names that mean stdin; read as `-`, since Deno grants them only with --allow-all. */
const STDIN_PATHS: ReadonlySet<string> = new Set(["/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"]);

/** Whether a file name means stdin (`-`, `/dev/stdin`, `/dev/fd/0`). */
export function isStdinPath(path: string): boolean {
  return path === "-" || STDIN_PATHS.has(path);
}

/**
 * All of stdin as text (for inputs other than the prompt, e.g. `profile --text -`).
 *
 * @param what the input, for the message when it is not UTF-8
 * @throws {InputError} when it is not UTF-8
 */
export async function readStdinText(what = "stdin"): Promise<string> {
  return await readAll(Deno.stdin.readable, what);
}

async function readAll(stream: ReadableStream<Uint8Array>, what: string): Promise<string> {
  return decodeUtf8(new Uint8Array(await new Response(stream).arrayBuffer()), what);
}

/**
 * Resolves the prompt text.
 *
 * @param source the positional text and `--file`
 * @param options `allowEmpty`: accept no prompt at all (then returns `""`);
 *   `stdin`: the stream to read (defaults to `Deno.stdin`)
 * @returns the prompt text
 * @throws {UsageError} when both a text and a file are given, or no prompt is given and stdin is a terminal
 * @throws {InputError} when the file cannot be read, or the file or stdin is not UTF-8
 */
export async function readPrompt(
  source: PromptSource,
  options: { allowEmpty?: boolean; stdin?: StdinLike } = {},
): Promise<string> {
  const stdin = options.stdin ?? Deno.stdin;
  const { text, file } = source;
  if (text !== undefined && file !== undefined) {
    throw new UsageError("Cannot take a prompt from both an argument and --file: give one");
  }
  if (text === "-" || file === "-" || (file !== undefined && STDIN_PATHS.has(file))) {
    if (stdin.isTerminal()) {
      throw new UsageError("Cannot read the prompt from stdin: it is a terminal, pipe text in");
    }
    return await readAll(stdin.readable, "the prompt from stdin");
  }
  if (text !== undefined) return text;
  if (file !== undefined) {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(file);
    } catch (error) {
      const why = error instanceof Deno.errors.NotFound
        ? "no such file"
        : error instanceof Deno.errors.IsADirectory
        ? "it is a directory"
        : (error as Error).message;
      throw new InputError(`Cannot read prompt file "${file}": ${why}`, { cause: error });
    }
    return decodeUtf8(bytes, `prompt file "${file}"`);
  }
  if (!stdin.isTerminal()) return await readAll(stdin.readable, "the prompt from stdin");
  if (options.allowEmpty) return "";
  throw new UsageError("No prompt given: pass it as an argument, with -f FILE, or on stdin");
}
