/**
 * The one error type for malformed GGUF input: a `SyntaxError` that says what
 * is wrong, where (the byte offset) and which exit code the CLI should use.
 *
 * @module
 */

import { ExitCode } from "../errors.ts";

/** What is wrong with a GGUF file, one code per check of the reader. */
export type GgufErrorCode =
  /** The file does not start with the bytes `GGUF`. */
  | "bad_magic"
  /** Version 1, 0 or newer than 3. */
  | "unsupported_version"
  /** A big-endian GGUF file. */
  | "big_endian"
  /** The file ends in the middle of a field. */
  | "truncated"
  /** A string length, array length or count that cannot fit in the file. */
  | "length_too_large"
  /** A metadata value type tag outside 0..12. */
  | "unknown_value_type"
  /** A bool value other than 0 or 1. */
  | "bad_bool"
  /** Arrays nested deeper than the reader allows. */
  | "nesting_too_deep"
  /** A tensor type d2o cannot read (exit code 4). */
  | "unknown_tensor_type"
  /** A tensor with 0 or more than 4 dimensions. */
  | "too_many_dims"
  /** A tensor dimension of 0 or one that is negative read as a signed integer. */
  | "bad_dim"
  /** A tensor whose element count or byte size exceeds 2^53. */
  | "element_overflow"
  /** Tensor data that ends past the end of the file. */
  | "tensor_out_of_file"
  /** A tensor offset that is not a multiple of the alignment. */
  | "misaligned_tensor"
  /** Two tensors whose data overlaps. */
  | "overlapping_tensors"
  /** A metadata key that appears twice. */
  | "duplicate_key"
  /** A tensor name that appears twice. */
  | "duplicate_tensor"
  /** `general.alignment` that is not a nonzero multiple of 8 (or not an integer). */
  | "bad_alignment"
  /** A tensor whose first dimension is not a multiple of its type's block size. */
  | "bad_row_size"
  /** Tensor data holding a NaN or an infinity (a float, or a quantized block's scale). */
  | "non_finite"
  /** A required metadata key is absent. */
  | "missing_key"
  /** A metadata value has another type than the one asked for. */
  | "wrong_type";

/**
 * A malformed (or unsupported) GGUF file. The message names the file and the
 * byte offset; the CLI maps it to {@linkcode ExitCode.input}, or to
 * {@linkcode ExitCode.unsupported} for an unknown tensor type.
 *
 * @example Catching a format error
 * ```ts
 * import assert from "node:assert/strict";
 * import { GgufFormatError } from "./format_error.ts";
 * const error = new GgufFormatError("bad_magic", 'Cannot read "x.gguf": no GGUF magic at byte 0', 0);
 * assert.equal(error.code, "bad_magic");
 * assert.equal(error.exitCode, 3);
 * ```
 */
export class GgufFormatError extends SyntaxError {
  /** What is wrong. */
  readonly code: GgufErrorCode;
  /** Byte offset where the problem was found; -1 when it has no single place (a missing key). */
  readonly offset: number;

  /**
   * @param code what is wrong
   * @param message one sentence naming the file, the value and the byte offset
   * @param offset byte offset of the problem, or -1
   * @param options standard error options (`cause`)
   */
  constructor(code: GgufErrorCode, message: string, offset: number, options?: ErrorOptions) {
    super(message, options);
    this.name = "GgufFormatError";
    this.code = code;
    this.offset = offset;
  }

  /** The process exit code: unsupported for an unknown tensor type, bad input otherwise. */
  get exitCode(): number {
    return this.code === "unknown_tensor_type" ? ExitCode.unsupported : ExitCode.input;
  }
}

/**
 * The start of every reader message: `Cannot read "model.gguf"`, or
 * `Cannot read GGUF data` for a source without a name.
 *
 * @param name file name or path, if any
 * @returns the message prefix, without the colon
 */
export function cannotRead(name: string | undefined): string {
  return name === undefined ? "Cannot read GGUF data" : `Cannot read "${name}"`;
}
