/**
 * The key/value metadata of a GGUF file, with typed getters that fail with
 * the key, the expected type and the actual one.
 *
 * @module
 */

import { cannotRead, type GgufErrorCode, GgufFormatError } from "./format_error.ts";
import { valueTypeName } from "./read_value.ts";
import { type GgufArray, type GgufEntry, type GgufValue, GgufValueType } from "./types.ts";

/** Where the metadata came from, for error messages. */
export interface GgufMetadataOptions {
  /** File name or path. */
  readonly name?: string;
  /** Byte offset of each entry's value in the file. */
  readonly offsets?: ReadonlyMap<string, number>;
}

const NUMERIC_TYPES: ReadonlySet<GgufValueType> = new Set([
  GgufValueType.U8,
  GgufValueType.I8,
  GgufValueType.U16,
  GgufValueType.I16,
  GgufValueType.U32,
  GgufValueType.I32,
  GgufValueType.F32,
  GgufValueType.U64,
  GgufValueType.I64,
  GgufValueType.F64,
]);

/**
 * Metadata entries by key. Typed getters accept any integer or float width for
 * numbers (writers differ), and throw {@linkcode GgufFormatError} with code
 * `missing_key` or `wrong_type` naming the key and both types.
 *
 * @example Reading hyper-parameters
 * ```ts
 * import assert from "node:assert/strict";
 * import { GgufMetadata } from "./metadata.ts";
 * import { GgufValueType } from "./types.ts";
 * const meta = new GgufMetadata(new Map([
 *   ["llama.block_count", { type: GgufValueType.U32, value: 5 }],
 * ]));
 * assert.equal(meta.number("llama.block_count"), 5);
 * assert.equal(meta.optionalNumber("llama.rope.freq_base"), undefined);
 * ```
 */
export class GgufMetadata {
  /** Every entry, in file order. */
  readonly entries: ReadonlyMap<string, GgufEntry>;
  readonly #options: GgufMetadataOptions;

  /**
   * @param entries entries by key
   * @param options file name and entry offsets for messages
   */
  constructor(entries: Map<string, GgufEntry>, options: GgufMetadataOptions = {}) {
    this.entries = entries;
    this.#options = options;
  }

  /** Whether `key` is present. */
  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** The raw value of `key`, if present. */
  get(key: string): GgufValue | undefined {
    return this.entries.get(key)?.value;
  }

  /**
   * The string value of `key`.
   *
   * @throws {GgufFormatError} if it is missing or not a string
   */
  string(key: string): string {
    return this.#required(key, "a string", (e) => this.#asString(key, e));
  }

  /** The string value of `key`, or undefined if absent; throws if present with another type. */
  optionalString(key: string): string | undefined {
    return this.#optional(key, (e) => this.#asString(key, e));
  }

  /**
   * The numeric value of `key`, of any integer or float type.
   *
   * @throws {GgufFormatError} if it is missing, not a number, or a 64-bit integer beyond 2^53
   */
  number(key: string): number {
    return this.#required(key, "a number", (e) => this.#asNumber(key, e));
  }

  /** The numeric value of `key`, or undefined if absent; throws if present with another type. */
  optionalNumber(key: string): number | undefined {
    return this.#optional(key, (e) => this.#asNumber(key, e));
  }

  /**
   * The bool value of `key`.
   *
   * @throws {GgufFormatError} if it is missing or not a bool
   */
  bool(key: string): boolean {
    return this.#required(key, "a bool", (e) => this.#asBool(key, e));
  }

  /** The bool value of `key`, or undefined if absent; throws if present with another type. */
  optionalBool(key: string): boolean | undefined {
    return this.#optional(key, (e) => this.#asBool(key, e));
  }

  /**
   * The elements of the string array `key`.
   *
   * @throws {GgufFormatError} if it is missing or not an array of strings
   */
  stringArray(key: string): string[] {
    return this.#required(key, "an array of string", (e) => this.#asStringArray(key, e));
  }

  /** The string array `key`, or undefined if absent; throws if present with another type. */
  optionalStringArray(key: string): string[] | undefined {
    return this.#optional(key, (e) => this.#asStringArray(key, e));
  }

  /**
   * The elements of the numeric array `key` (any integer or float element type).
   *
   * @throws {GgufFormatError} if it is missing, not a numeric array, or holds 64-bit integers beyond 2^53
   */
  numberArray(key: string): number[] {
    return this.#required(key, "an array of numbers", (e) => this.#asNumberArray(key, e));
  }

  /** The numeric array `key`, or undefined if absent; throws if present with another type. */
  optionalNumberArray(key: string): number[] | undefined {
    return this.#optional(key, (e) => this.#asNumberArray(key, e));
  }

  #required<T>(key: string, expected: string, convert: (entry: GgufEntry) => T): T {
    const entry = this.entries.get(key);
    if (!entry) {
      this.#fail("missing_key", key, `metadata key "${key}" (${expected}) is missing`);
    }
    return convert(entry);
  }

  #optional<T>(key: string, convert: (entry: GgufEntry) => T): T | undefined {
    const entry = this.entries.get(key);
    return entry ? convert(entry) : undefined;
  }

  #asString(key: string, entry: GgufEntry): string {
    if (typeof entry.value !== "string") this.#wrongType(key, entry, "a string");
    return entry.value;
  }

  #asBool(key: string, entry: GgufEntry): boolean {
    if (typeof entry.value !== "boolean") this.#wrongType(key, entry, "a bool");
    return entry.value;
  }

  #asNumber(key: string, entry: GgufEntry): number {
    if (typeof entry.value !== "number") this.#wrongType(key, entry, "a number");
    return entry.value;
  }

  #asStringArray(key: string, entry: GgufEntry): string[] {
    const array = this.#array(key, entry, "an array of string");
    if (array.elementType !== GgufValueType.STRING) {
      this.#wrongType(key, entry, "an array of string");
    }
    return array.values as string[];
  }

  #asNumberArray(key: string, entry: GgufEntry): number[] {
    const array = this.#array(key, entry, "an array of numbers");
    if (!NUMERIC_TYPES.has(array.elementType)) this.#wrongType(key, entry, "an array of numbers");
    const values = array.values as (number | bigint)[];
    if (values.some((v) => typeof v !== "number")) {
      this.#wrongType(key, entry, "an array of numbers within 2^53");
    }
    return values as number[];
  }

  #array(key: string, entry: GgufEntry, expected: string): GgufArray {
    if (entry.type !== GgufValueType.ARRAY) this.#wrongType(key, entry, expected);
    return entry.value as GgufArray;
  }

  #wrongType(key: string, entry: GgufEntry, expected: string): never {
    const actual = typeof entry.value === "bigint"
      ? `a ${valueTypeName(entry.type)} too large for a number (${entry.value})`
      : describeType(entry);
    const at = this.#options.offsets?.get(key);
    const where = at === undefined ? "" : ` at byte ${at}`;
    this.#fail(
      "wrong_type",
      key,
      `metadata key "${key}"${where} is ${actual}, expected ${expected}`,
    );
  }

  #fail(code: GgufErrorCode, key: string, detail: string): never {
    const offset = code === "missing_key" ? -1 : this.#options.offsets?.get(key) ?? -1;
    throw new GgufFormatError(code, `${cannotRead(this.#options.name)}: ${detail}`, offset);
  }
}

function describeType(entry: GgufEntry): string {
  if (entry.type !== GgufValueType.ARRAY) return `a ${valueTypeName(entry.type)}`;
  return `an array of ${valueTypeName((entry.value as GgufArray).elementType)}`;
}
