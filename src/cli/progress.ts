/**
 * A one-line progress bar on stderr, shown only when stderr is a terminal
 * (pipelines and CI logs stay clean).
 *
 * @module
 */

import pc from "picocolors";

/** A progress bar's two hooks. */
export interface Progress {
  /** Reports `done` of `total` units. */
  update: (done: number, total: number) => void;
  /** Clears the bar. */
  done: () => void;
}

const encoder = new TextEncoder();

/** Seconds between progress lines off a terminal (and before the first). */
export const PROGRESS_LINE_SECONDS = 2;

/** Where a progress bar draws (tests inject one). */
export interface ProgressStream {
  isTerminal(): boolean;
  writeSync(p: Uint8Array): number;
}

/** Options of {@linkcode createProgress}. */
export interface ProgressOptions {
  /** Report off a terminal too: a line every {@linkcode PROGRESS_LINE_SECONDS} seconds. */
  readonly lines?: boolean;
  /** What is counted, e.g. `tokens`: the bar then shows it and the rate (`384/1142 tokens, 52.1 tokens/s`). */
  readonly unit?: string;
  /** The clock in milliseconds (tests). */
  readonly now?: () => number;
}

/**
 * Creates a progress bar for a task; off a terminal a no-op, or with
 * `lines` a plain `d2o: label done/total` line every
 * {@linkcode PROGRESS_LINE_SECONDS} seconds of a long task (none for a short one).
 *
 * @param label what is progressing, e.g. `"loading weights"`
 * @param stderr the stream to draw on (tests inject one)
 * @param options lines off a terminal, the unit counted, the clock
 */
export function createProgress(
  label: string,
  stderr: ProgressStream = Deno.stderr,
  options: ProgressOptions = {},
): Progress {
  const clock = options.now ?? (() => performance.now());
  if (!stderr.isTerminal()) {
    if (!options.lines) return { update: () => {}, done: () => {} };
    return progressLines(label, stderr, clock, options.unit);
  }
  let shown = false;
  let lastDraw = -Infinity;
  const start = clock();
  const write = (s: string) => stderr.writeSync(encoder.encode(s));
  return {
    update(done, total) {
      const now = clock();
      if (done < total && now - lastDraw < 50) return;
      lastDraw = now;
      const width = 30;
      const filled = total > 0 ? Math.round((done / total) * width) : 0;
      const bar = pc.cyan("█".repeat(filled)) + pc.dim("░".repeat(width - filled));
      const { unit } = options;
      const rate = unit && now > start
        ? `, ${(done / ((now - start) / 1000)).toFixed(1)} ${unit}/s`
        : "";
      write(`\r\x1b[2K${label} ${bar} ${done}/${total}${unit ? ` ${unit}` : ""}${rate}`);
      shown = true;
    },
    done() {
      if (shown) write("\r\x1b[2K");
      shown = false;
    },
  };
}

/** Plain progress lines for a log: one every few seconds, so a long run shows it is alive. */
function progressLines(
  label: string,
  stderr: ProgressStream,
  clock: () => number,
  unit: string | undefined,
): Progress {
  const start = clock();
  let last = start;
  return {
    update(done, total) {
      const now = clock();
      if (now - last < PROGRESS_LINE_SECONDS * 1000) return;
      last = now;
      const rate = (done / ((now - start) / 1000)).toFixed(1);
      const count = unit
        ? `${done}/${total} ${unit} (${rate} ${unit} per second)`
        : `${done}/${total} (${rate} per second)`;
      stderr.writeSync(encoder.encode(`d2o: ${label} ${count}\n`));
    },
    done: () => {},
  };
}
