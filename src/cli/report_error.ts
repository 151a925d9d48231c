/**
 * Turns any thrown value into one line on stderr and an exit code.
 *
 * @module
 */

import { D2oError, ExitCode, InterruptedError } from "../errors.ts";

/**
 * An error that knows its own exit code: D2oError, the GGUF format errors, and
 * InterruptedError (whose code is its signal's: 130, 143, 129).
 */
interface Reportable {
  readonly message: string;
  readonly exitCode: number;
}

function isReportable(error: unknown): error is Reportable {
  return error instanceof D2oError || error instanceof InterruptedError ||
    (error instanceof Error && typeof (error as Partial<Reportable>).exitCode === "number");
}

/**
 * Prints `error` as one line `d2o: <message>` on stderr (plus its stack with
 * `debug`) and returns the exit code for its class.
 *
 * @param error anything thrown
 * @param debug print the stack trace too
 * @returns the exit code
 */
export function reportError(error: unknown, debug: boolean): number {
  const known = isReportable(error);
  const message = error instanceof Error ? error.message : String(error);
  const line = known ? message : `internal error: ${message}`;
  console.error(`d2o: ${line}${known || debug ? "" : " (run with --debug for details)"}`);
  if (debug && error instanceof Error && error.stack) console.error(error.stack);
  return known ? (error as Reportable).exitCode : ExitCode.internal;
}
