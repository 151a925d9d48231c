/**
 * Parsers for numeric command-line values: each names its flag and the valid
 * range in the error, so a bad value gets one clear line and exit code 2.
 *
 * @module
 */

import { InvalidArgumentError } from "commander";
import { UsageError } from "../errors.ts";

/**
 * A commander parser for an integer within `[min, max]`.
 *
 * @param min smallest accepted value
 * @param max largest accepted value
 * @returns a parser that throws commander's InvalidArgumentError (exit code 2)
 */
export function integerIn(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected ${range("an integer", min, max)}`);
    }
    return n;
  };
}

/**
 * A commander parser for a finite number within `[min, max]`.
 *
 * @param min smallest accepted value
 * @param max largest accepted value
 */
export function numberIn(min: number, max = Infinity): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected ${range("a number", min, max)}`);
    }
    return n;
  };
}

/** Collects a repeatable string option into an array. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function range(what: string, min: number, max: number): string {
  const open = max === Infinity || max === Number.MAX_SAFE_INTEGER;
  return open ? `${what} ≥ ${min}` : `${what} from ${min} to ${max}`;
}

/**
 * The commander parser of `--kv-memory`: a byte size ({@linkcode parseByteSize}).
 *
 * @param value the flag's value
 * @returns bytes
 * @throws {InvalidArgumentError} for anything else (exit code 2)
 */
export function byteSizeArg(value: string): number {
  try {
    return parseByteSize(value, "--kv-memory");
  } catch {
    throw new InvalidArgumentError("expected a size such as 256MiB, 1.5GB or 4096 (bytes)");
  }
}

/**
 * Parses a byte size: a number with an optional unit B, KB/MB/GB (powers of
 * 1000) or KiB/MiB/GiB (powers of 1024), e.g. `256MiB`, `1.5GB`, `4096`.
 *
 * @param text the size as typed
 * @param flag the flag it came from (for the error)
 * @returns bytes (a positive integer)
 * @throws {UsageError} for anything else
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseByteSize } from "./options.ts";
 * assert.equal(parseByteSize("256MiB", "--kv-memory"), 256 * 2 ** 20);
 * assert.equal(parseByteSize("1.5GB", "--kv-memory"), 1.5e9);
 * ```
 */
export function parseByteSize(text: string, flag: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?\s*$/i.exec(text);
  const units: Record<string, number> = {
    b: 1,
    kb: 1e3,
    mb: 1e6,
    gb: 1e9,
    tb: 1e12,
    kib: 2 ** 10,
    mib: 2 ** 20,
    gib: 2 ** 30,
    tib: 2 ** 40,
  };
  const bytes = m ? Math.floor(Number(m[1]) * units[(m[2] ?? "b").toLowerCase()]!) : NaN;
  if (!Number.isSafeInteger(bytes) || bytes < 1) {
    throw new UsageError(
      `Cannot read ${flag} "${text}": expected a size such as 256MiB, 1.5GB or 4096 (bytes)`,
    );
  }
  return bytes;
}
