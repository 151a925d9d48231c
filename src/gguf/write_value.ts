/**
 * Encoding of GGUF metadata values (docs/gguf-format.md §1.2), with each value
 * checked against its type tag first.
 *
 * @module
 */

import type { ByteSink } from "./byte_sink.ts";
import { type GgufArray, type GgufValue, GgufValueType } from "./types.ts";

/** Inclusive integer ranges of the fixed-width integer tags. */
const INT_RANGES: ReadonlyMap<GgufValueType, readonly [bigint, bigint]> = new Map([
  [GgufValueType.U8, [0n, 0xffn]],
  [GgufValueType.I8, [-0x80n, 0x7fn]],
  [GgufValueType.U16, [0n, 0xffffn]],
  [GgufValueType.I16, [-0x8000n, 0x7fffn]],
  [GgufValueType.U32, [0n, 0xffffffffn]],
  [GgufValueType.I32, [-0x80000000n, 0x7fffffffn]],
  [GgufValueType.U64, [0n, 0xffffffffffffffffn]],
  [GgufValueType.I64, [-0x8000000000000000n, 0x7fffffffffffffffn]],
]);

/** Lower-case tag name, e.g. `"u32"`. */
function tagName(type: GgufValueType): string {
  return GgufValueType[type]?.toLowerCase() ?? `type ${type}`;
}

/** Whether `value` has the shape of a {@linkcode GgufArray}. */
function isArray(value: GgufValue): value is GgufArray {
  return typeof value === "object" && value !== null && Array.isArray(value.values);
}

/**
 * Checks that `value` fits tag `type`, recursively for arrays.
 *
 * @param type the value's tag
 * @param value the value
 * @param where names the value in messages, e.g. `metadata "general.name"`
 * @throws {TypeError} if the value's JavaScript type does not match the tag
 * @throws {RangeError} if an integer is out of range or the tag is unknown
 */
export function checkValue(type: GgufValueType, value: GgufValue, where: string): void {
  const range = INT_RANGES.get(type);
  if (range) {
    const wide = type === GgufValueType.U64 || type === GgufValueType.I64;
    const ok = typeof value === "bigint" ? wide : typeof value === "number";
    if (!ok || (typeof value === "number" && !Number.isSafeInteger(value))) {
      throw new TypeError(
        `Cannot encode ${where}: ${tagName(type)} value ${value} is not an integer`,
      );
    }
    const big = BigInt(value as number | bigint);
    if (big < range[0] || big > range[1]) {
      throw new RangeError(
        `Cannot encode ${where}: ${tagName(type)} value ${value} is outside ${range[0]}..${
          range[1]
        }`,
      );
    }
    return;
  }
  const expect = (ok: boolean, what: string) => {
    if (!ok) throw new TypeError(`Cannot encode ${where}: expected ${what}, got ${String(value)}`);
  };
  switch (type) {
    case GgufValueType.F32:
    case GgufValueType.F64:
      return expect(typeof value === "number", `a number for ${tagName(type)}`);
    case GgufValueType.BOOL:
      return expect(typeof value === "boolean", "a boolean");
    case GgufValueType.STRING:
      return expect(typeof value === "string", "a string");
    case GgufValueType.ARRAY: {
      expect(isArray(value), "an array { elementType, values }");
      const { elementType, values } = value as GgufArray;
      if (GgufValueType[elementType] === undefined) {
        throw new RangeError(`Cannot encode ${where}: unknown array element type ${elementType}`);
      }
      values.forEach((v, i) => checkValue(elementType, v, `${where}[${i}]`));
      return;
    }
    default:
      throw new RangeError(`Cannot encode ${where}: unknown value type ${type}`);
  }
}

/**
 * Appends a value already accepted by {@linkcode checkValue}.
 *
 * @param sink destination
 * @param type the value's tag
 * @param value the value
 */
export function writeValue(sink: ByteSink, type: GgufValueType, value: GgufValue): void {
  switch (type) {
    case GgufValueType.U8:
      return sink.u8(value as number);
    case GgufValueType.I8:
      return sink.i8(value as number);
    case GgufValueType.U16:
      return sink.u16(value as number);
    case GgufValueType.I16:
      return sink.i16(value as number);
    case GgufValueType.U32:
      return sink.u32(value as number);
    case GgufValueType.I32:
      return sink.i32(value as number);
    case GgufValueType.U64:
      return sink.u64(value as number | bigint);
    case GgufValueType.I64:
      return sink.i64(value as number | bigint);
    case GgufValueType.F32:
      return sink.f32(value as number);
    case GgufValueType.F64:
      return sink.f64(value as number);
    case GgufValueType.BOOL:
      return sink.u8(value ? 1 : 0);
    case GgufValueType.STRING:
      return sink.string(value as string);
    case GgufValueType.ARRAY: {
      const { elementType, values } = value as GgufArray;
      sink.u32(elementType);
      sink.u64(values.length);
      for (const v of values) writeValue(sink, elementType, v);
    }
  }
}
