/**
 * Validation of one KV flag value: a whole number, a number in a range, or
 * one of a few words. Every error is a {@linkcode UsageError} naming the
 * flag, the value and the valid range. The policy files use these for the
 * flags they declare.
 *
 * @module
 */

import { UsageError } from "../errors.ts";

/**
 * A number from a flag's text (an empty text is not a number).
 *
 * @param value text or number
 * @returns the number, NaN when the text is not one
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { toNumber } from "./flag_values.ts";
 * assert.equal(toNumber(" 2 "), 2);
 * assert.ok(Number.isNaN(toNumber(""))); // Number("") would be 0
 * ```
 */
export function toNumber(value: string | number): number {
  if (typeof value === "number") return value;
  return value.trim() === "" ? NaN : Number(value);
}

/**
 * A whole number at least `min`.
 *
 * @param flag the flag's name, for the error
 * @param value its raw value
 * @param min the smallest valid value
 * @param max the largest valid value (default: none)
 * @returns the number
 * @throws {UsageError} when the value is not a whole number in range
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { integerFlag } from "./flag_values.ts";
 * assert.equal(integerFlag("--sinks", "4", 0), 4);
 * assert.throws(() => integerFlag("--sinks", "1.5", 0), /--sinks "1.5": expected a whole number ≥ 0/);
 * ```
 */
export function integerFlag(
  flag: string,
  value: string | number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const x = toNumber(value);
  if (!Number.isSafeInteger(x) || x < min || x > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
    throw new UsageError(`Cannot use ${flag} "${value}": expected a whole number ${range}`);
  }
  return x;
}

/**
 * A finite number in `[min, max]`.
 *
 * @param flag the flag's name, for the error
 * @param value its raw value
 * @param min the smallest valid value
 * @param max the largest valid value
 * @returns the number
 * @throws {UsageError} when the value is not a number in range
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { numberFlag } from "./flag_values.ts";
 * assert.equal(numberFlag("--d2o-beta", "0.5", 0, 1), 0.5);
 * assert.throws(() => numberFlag("--d2o-beta", "2", 0, 1), /expected a number from 0 to 1/);
 * ```
 */
export function numberFlag(flag: string, value: string | number, min: number, max: number): number {
  const x = toNumber(value);
  if (!Number.isFinite(x) || x < min || x > max) {
    throw new UsageError(`Cannot use ${flag} "${value}": expected a number from ${min} to ${max}`);
  }
  return x;
}

/**
 * One of a few words.
 *
 * @param flag the flag's name, for the error
 * @param value its raw value
 * @param allowed the valid words
 * @returns the word
 * @throws {UsageError} when the value is none of them
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { oneOf } from "./flag_values.ts";
 * assert.equal(oneOf("--merge-rule", "code", ["paper", "code"]), "code");
 * assert.throws(() => oneOf("--merge-rule", "Code", ["paper", "code"]), /expected one of paper, code/);
 * ```
 */
export function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  const found = allowed.find((a) => a === value);
  if (found === undefined) {
    throw new UsageError(`Cannot use ${flag} "${value}": expected one of ${allowed.join(", ")}`);
  }
  return found;
}
