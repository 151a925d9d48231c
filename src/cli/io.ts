/**
 * Output to stdout that ends quietly when the reader goes away (`| head`).
 *
 * @module
 */

import { InputError } from "../errors.ts";

const encoder = new TextEncoder();

/** Thrown (and caught by the CLI runner) when stdout's reader has closed the pipe. */
export class StdoutClosed extends Error {
  constructor() {
    super("stdout closed");
    this.name = "StdoutClosed";
  }
}

/**
 * Writes all of `text` to stdout.
 *
 * @throws {StdoutClosed} when the pipe's reader has gone away
 * @throws {InputError} when stdout cannot take the bytes (a full disk, `> /dev/full`)
 */
export async function writeStdout(text: string | Uint8Array): Promise<void> {
  const bytes = typeof text === "string" ? encoder.encode(text) : text;
  let off = 0;
  try {
    while (off < bytes.length) off += await Deno.stdout.write(bytes.subarray(off));
  } catch (error) {
    throw outputError(error);
  }
}

/**
 * Writes all of `text` to stdout at once (help text, `--version`), with the
 * errors of {@linkcode writeStdout}.
 *
 * @throws {StdoutClosed} when the pipe's reader has gone away
 * @throws {InputError} when stdout cannot take the bytes
 */
export function writeStdoutSync(text: string): void {
  const bytes = encoder.encode(text);
  let off = 0;
  try {
    while (off < bytes.length) off += Deno.stdout.writeSync(bytes.subarray(off));
  } catch (error) {
    throw outputError(error);
  }
}

/** What a failed write to stdout means to the user. */
function outputError(error: unknown): Error {
  if (error instanceof Deno.errors.BrokenPipe) return new StdoutClosed();
  const why = (error as Error).message.replace(/ \(os error \d+\).*$/, "");
  return new InputError(`Cannot write output: ${why}`, { cause: error });
}

/** Whether stdout is an interactive terminal (colours, progress bars). */
export function stdoutIsTerminal(): boolean {
  return Deno.stdout.isTerminal();
}

/** Whether stderr is an interactive terminal. */
export function stderrIsTerminal(): boolean {
  return Deno.stderr.isTerminal();
}
