/**
 * SIGINT (Ctrl-C), SIGTERM (`kill`, `timeout`, systemd, `docker stop`, CI
 * cancellation) and SIGHUP (a closed terminal) as a request to stop: the first
 * one sets a flag the run reads at its next checkpoint (after each token), so
 * it ends cleanly with its partial result (final newline, `--json` object,
 * `--jsonl` done event) and exits with the signal's code (130, 143, 129); a
 * second one, of any of the three, ends the process at once with its own code.
 *
 * The first signal hands its own kind back to the default action, so the
 * second Ctrl-C ends the process even while the JavaScript thread waits on a
 * long GPU submission (lavapipe runs the work inside `queue.submit`); another
 * kind is still caught and exits as soon as that thread runs.
 *
 * Outside a watch (loading a model) the signals keep their default action:
 * the process ends at once with the same codes.
 *
 * @module
 */

import { InterruptedError, SIGNAL_EXIT_CODE, type StopSignal } from "../errors.ts";

/** The signals a watch handles, in the order they are listened to. */
export const STOP_SIGNALS: readonly StopSignal[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/** The first stop signal any watch in this process saw (for the exit code of a later failure). */
let received: StopSignal | undefined;

/**
 * The first stop signal a watch saw in this process, if any: a run that
 * fails after it (e.g. writing to a terminal that hung up) still exits with
 * the signal's code.
 */
export function stopSignalReceived(): StopSignal | undefined {
  return received;
}

/** A watch for the stop signals, for the length of a run. */
export interface InterruptWatch {
  /** Whether a stop signal arrived since the watch started. */
  readonly interrupted: boolean;
  /** The first stop signal that arrived, if any. */
  readonly signal: StopSignal | undefined;
  /**
   * The error that ends an interrupted run: `interrupted by SIGTERM <what>`,
   * carrying the signal's exit code.
   *
   * @param what what was done, e.g. `after 12 generated tokens`
   */
  error(what: string): InterruptedError;
  /**
   * Throws {@linkcode InterruptWatch.error} when a stop signal arrived (a
   * checkpoint inside long work that has no partial result to print).
   *
   * @param what what was done, e.g. `after 3 of 10 decode steps`; a function is called only then
   */
  throwIfInterrupted(what: string | (() => string)): void;
  /** Stops watching (the signals' default actions return). */
  dispose(): void;
  /** Same as {@linkcode InterruptWatch.dispose}, for `using`. */
  [Symbol.dispose](): void;
}

/**
 * Starts watching for SIGINT, SIGTERM and SIGHUP (those the platform supports).
 *
 * @returns the watch; dispose it when the run ends
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { watchInterrupt } from "./interrupt.ts";
 * {
 *   using watch = watchInterrupt();
 *   assert.equal(watch.interrupted, false);
 *   watch.throwIfInterrupted(() => "after 0 steps"); // no signal yet: returns
 * } // disposed: the default actions are back
 * ```
 */
export function watchInterrupt(): InterruptWatch {
  let signal: StopSignal | undefined;
  let listeners: [StopSignal, () => void][] = [];
  for (const name of STOP_SIGNALS) {
    const handler = () => {
      if (signal !== undefined) Deno.exit(SIGNAL_EXIT_CODE[name]);
      signal = name;
      received ??= name;
      remove(name);
    };
    try {
      Deno.addSignalListener(name, handler);
      listeners.push([name, handler]);
    } catch {
      // Not on this platform (Windows has no SIGTERM or SIGHUP): its default action stays.
    }
  }
  const error = (what: string) =>
    new InterruptedError(`interrupted by ${signal ?? "SIGINT"} ${what}`, { signal });
  const remove = (only?: StopSignal) => {
    for (const [name, handler] of listeners) {
      if (only === undefined || name === only) Deno.removeSignalListener(name, handler);
    }
    listeners = listeners.filter(([name]) => only !== undefined && name !== only);
  };
  const dispose = () => remove();
  return {
    get interrupted() {
      return signal !== undefined;
    },
    get signal() {
      return signal;
    },
    error,
    throwIfInterrupted(what) {
      if (signal !== undefined) throw error(typeof what === "string" ? what : what());
    },
    dispose,
    [Symbol.dispose]: dispose,
  };
}

/**
 * A progress hook that is also a checkpoint: it reports progress, then throws
 * the watch's {@linkcode InterruptedError} when a stop signal arrived (work
 * that prints nothing until it ends: compress-inspect, profile).
 *
 * @param update the progress hook to call first
 * @param watch the run's watch
 * @param unit what is counted, e.g. `timed runs`
 * @returns the hook
 */
export function checkpointed(
  update: (done: number, total: number) => void,
  watch: InterruptWatch,
  unit: string,
): (done: number, total: number) => void {
  return (done, total) => {
    update(done, total);
    watch.throwIfInterrupted(() => `after ${done} of ${total} ${unit}`);
  };
}
