/**
 * Ctrl-C (SIGINT) as a request to stop: the first one sets a flag the
 * generation loop reads after each token, so the run ends cleanly with its
 * partial result (final newline, `--json` object, `--jsonl` done event); a
 * second one exits at once with code 130.
 *
 * @module
 */

import { ExitCode } from "../errors.ts";

/** A SIGINT watch for the length of a run. */
export interface InterruptWatch {
  /** Whether SIGINT arrived since the watch started. */
  readonly interrupted: boolean;
  /** Stops watching (the default SIGINT behaviour returns). */
  dispose(): void;
}

/**
 * Starts watching for SIGINT.
 *
 * @returns the watch; call `dispose` when the run ends
 */
export function watchInterrupt(): InterruptWatch {
  let interrupted = false;
  const handler = () => {
    if (interrupted) Deno.exit(ExitCode.interrupted);
    interrupted = true;
  };
  try {
    Deno.addSignalListener("SIGINT", handler);
  } catch {
    // No signal support on this platform: Ctrl-C keeps its default behaviour.
    return { interrupted: false, dispose: () => {} };
  }
  return {
    get interrupted() {
      return interrupted;
    },
    dispose: () => Deno.removeSignalListener("SIGINT", handler),
  };
}
