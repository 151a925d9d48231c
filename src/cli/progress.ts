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

/**
 * Creates a progress bar for a task; a no-op when stderr is not a terminal.
 *
 * @param label what is progressing, e.g. `"loading weights"`
 * @param stderr the stream to draw on (tests inject one)
 */
export function createProgress(
  label: string,
  stderr: { isTerminal(): boolean; writeSync(p: Uint8Array): number } = Deno.stderr,
): Progress {
  if (!stderr.isTerminal()) return { update: () => {}, done: () => {} };
  let shown = false;
  let lastDraw = 0;
  const write = (s: string) => stderr.writeSync(encoder.encode(s));
  return {
    update(done, total) {
      const now = performance.now();
      if (done < total && now - lastDraw < 50) return;
      lastDraw = now;
      const width = 30;
      const filled = total > 0 ? Math.round((done / total) * width) : 0;
      const bar = pc.cyan("█".repeat(filled)) + pc.dim("░".repeat(width - filled));
      write(`\r${label} ${bar} ${done}/${total}`);
      shown = true;
    },
    done() {
      if (shown) write("\r\x1b[2K");
      shown = false;
    },
  };
}
