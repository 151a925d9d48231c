/**
 * Errors the command line turns into one line on stderr and a distinct exit
 * code. Library code throws these (or a subclass) for every failure a user can
 * cause; anything else is a bug and exits with {@linkcode ExitCode.internal}.
 *
 * @module
 */

/** Process exit codes, one per class of failure (documented in the README). */
export const ExitCode = {
  /** Success. */
  ok: 0,
  /** An unexpected internal error (a bug): exit 1. */
  internal: 1,
  /** Bad command-line usage: unknown flag, bad value, missing argument. */
  usage: 2,
  /** The input file is missing, unreadable, not GGUF, truncated or corrupt. */
  input: 3,
  /** A well-formed model this tool does not support (architecture, tensor type, tokenizer). */
  unsupported: 4,
  /** No WebGPU adapter, device lost, validation error, or a buffer over the adapter's limits. */
  gpu: 5,
  /** The request cannot fit: prompt longer than the context, budget out of range at run time. */
  limit: 6,
  /** Stopped by SIGHUP (the terminal closed) after printing the partial result: 128 + 1. */
  hangup: 129,
  /** Stopped by SIGINT (Ctrl-C) after printing the partial result: 128 + 2, as shells report it. */
  interrupted: 130,
  /** Stopped by SIGTERM (`kill`, `timeout`, a service manager) after the partial result: 128 + 15. */
  terminated: 143,
} as const;

/** Name of one class of failure. */
export type ExitCodeName = keyof typeof ExitCode;

/** Base class of every error the CLI reports as one line; carries its exit code. */
export class D2oError extends Error {
  /** Which class of failure this is; selects the exit code. */
  readonly kind: ExitCodeName;

  /**
   * @param kind class of failure
   * @param message one sentence, sentence case, no trailing period
   * @param options standard error options (`cause`)
   */
  constructor(kind: ExitCodeName, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "D2oError";
    this.kind = kind;
  }

  /** The process exit code for this error. */
  get exitCode(): number {
    return ExitCode[this.kind];
  }
}

/** Bad command-line usage (exit code 2). */
export class UsageError extends D2oError {
  /** @param message what is wrong, naming the flag and the valid range */
  constructor(message: string, options?: ErrorOptions) {
    super("usage", message, options);
    this.name = "UsageError";
  }
}

/** A missing, unreadable or malformed input file (exit code 3). */
export class InputError extends D2oError {
  /** @param message what is wrong, naming the file */
  constructor(message: string, options?: ErrorOptions) {
    super("input", message, options);
    this.name = "InputError";
  }
}

/** A well-formed model or file feature that is not supported (exit code 4). */
export class UnsupportedError extends D2oError {
  /** @param message what is unsupported and what is */
  constructor(message: string, options?: ErrorOptions) {
    super("unsupported", message, options);
    this.name = "UnsupportedError";
  }
}

/** A WebGPU failure: no adapter, device lost, validation, limits (exit code 5). */
export class GpuError extends D2oError {
  /** @param message what failed and, where possible, how to fix it */
  constructor(message: string, options?: ErrorOptions) {
    super("gpu", message, options);
    this.name = "GpuError";
  }
}

/** A request that does not fit the model or the cache (exit code 6). */
export class LimitError extends D2oError {
  /** @param message what does not fit, with the numbers */
  constructor(message: string, options?: ErrorOptions) {
    super("limit", message, options);
    this.name = "LimitError";
  }
}

/** The signals that ask a run to stop and print what it has so far. */
export type StopSignal = "SIGINT" | "SIGTERM" | "SIGHUP";

/** The exit code after each stop signal: 128 + its number, as shells report a process it ended. */
export const SIGNAL_EXIT_CODE: Readonly<Record<StopSignal, number>> = {
  SIGHUP: ExitCode.hangup,
  SIGINT: ExitCode.interrupted,
  SIGTERM: ExitCode.terminated,
};

/**
 * The run was stopped by a signal after printing what it produced so far; the
 * exit code is the signal's (130 SIGINT, 143 SIGTERM, 129 SIGHUP).
 *
 * Not a {@linkcode D2oError}: code that turns a user-level failure into a
 * result row or a per-prompt error (`catch (e) { if (e instanceof D2oError) … }`)
 * must let a stop request through.
 */
export class InterruptedError extends Error {
  /** The signal that stopped the run. */
  readonly signal: StopSignal;

  /**
   * @param message what was cut short, e.g. `interrupted by SIGTERM after 12 generated tokens`
   * @param options standard error options, and the signal (default SIGINT)
   */
  constructor(message: string, options?: ErrorOptions & { signal?: StopSignal | undefined }) {
    super(message, options);
    this.name = "InterruptedError";
    this.signal = options?.signal ?? "SIGINT";
  }

  /** The process exit code for this signal. */
  get exitCode(): number {
    return SIGNAL_EXIT_CODE[this.signal];
  }
}
