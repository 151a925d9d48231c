/**
 * The JSON lines of `generate --prompts` on stdout, and a way to find out
 * that stdout's reader went away (`--prompts … | head -n 1`) while no line
 * is due: Deno ignores SIGPIPE, and an empty write never fails, so only a
 * byte written says it. Every line starts with `{"id":`, so between lines a
 * checkpoint writes the next line's opening bytes ahead, one at a time, a
 * while after the last write (0.1 s, then twice as long each time). When the
 * reader has gone, that write fails and the run ends at once, exit 0; when it
 * has not, the line that follows continues after the bytes already written.
 * Either way the bytes on stdout are exactly the lines.
 *
 * @module
 */

import { stdoutIsTerminal, writeStdout, writeStdoutSync } from "./io.ts";

/** How every line begins: `id` is each line's first field. */
export const LINE_OPENING = '{"id":';

/** Milliseconds after a write before the first byte written ahead. */
export const FIRST_PROBE_MS = 100;

/** One line per request, in finishing order; probes between them. */
export class BatchLines {
  readonly #total: number;
  readonly #probing: boolean;
  readonly #now: () => number;
  /** Bytes of {@linkcode LINE_OPENING} already written ahead of the next line. */
  #ahead = 0;
  #written = 0;
  #last: number;

  /**
   * @param total lines the run will write (one per request)
   * @param options `probing`: write ahead to find a closed stdout (default: when stdout is not a
   *   terminal; a closed terminal sends SIGHUP); `now`: the clock (tests)
   */
  constructor(total: number, options: { probing?: boolean; now?: () => number } = {}) {
    this.#total = total;
    this.#probing = options.probing ?? !stdoutIsTerminal();
    this.#now = options.now ?? (() => performance.now());
    this.#last = this.#now();
  }

  /** Lines written so far. */
  get written(): number {
    return this.#written;
  }

  /**
   * Writes one request's line (after the bytes already written ahead).
   *
   * @param line an object whose first field is `id`
   * @throws {StdoutClosed} when stdout's reader has gone
   * @throws {RangeError} when the line does not open with {@linkcode LINE_OPENING}
   */
  async write(line: { readonly id: string | number }): Promise<void> {
    const text = JSON.stringify(line) + "\n";
    if (!text.startsWith(LINE_OPENING)) {
      throw new RangeError(`Cannot write a batch line that does not open with ${LINE_OPENING}`);
    }
    await writeStdout(text.slice(this.#ahead));
    this.#ahead = 0;
    this.#written++;
    this.#last = this.#now();
  }

  /**
   * A checkpoint between lines: writes the next byte of the next line's
   * opening when it is due (a line is still to come, and 0.1 s, 0.2 s, 0.4 s …
   * passed since the last write).
   *
   * @throws {StdoutClosed} when stdout's reader has gone
   */
  probe(): void {
    if (!this.#probing || this.#written >= this.#total) return;
    if (this.#ahead >= LINE_OPENING.length) return;
    const now = this.#now();
    if (now - this.#last < FIRST_PROBE_MS * 2 ** this.#ahead) return;
    writeStdoutSync(LINE_OPENING[this.#ahead]!);
    this.#ahead++;
    this.#last = now;
  }
}
