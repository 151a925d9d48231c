/**
 * Decoding of one GGUF metadata value (docs/gguf-format.md §1.2), arrays included.
 *
 * @module
 */

import type { Cursor } from "./cursor.ts";
import { type GgufArray, type GgufValue, GgufValueType } from "./types.ts";

/** Arrays may nest; deeper than this is treated as a corrupt file, not recursed into. */
export const MAX_ARRAY_DEPTH = 8;

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);

/** Fewest bytes a value of each type takes (strings: the length; arrays: tag + count). */
const MIN_BYTES: readonly number[] = [1, 1, 2, 2, 4, 4, 4, 1, 8, 12, 8, 8, 8];

/** Lower-case name of a value type tag, e.g. `"u32"`; `"type 77"` for an unknown tag. */
export function valueTypeName(type: number): string {
  const name = GgufValueType[type];
  return name === undefined ? `type ${type}` : name.toLowerCase();
}

/**
 * Reads a value type tag and checks that it is known.
 *
 * @param cursor positioned at the tag
 * @param what the tag's role, for messages
 * @returns the tag
 */
export function readValueType(cursor: Cursor, what: string): GgufValueType {
  const at = cursor.pos;
  const tag = cursor.u32(what);
  if (tag > GgufValueType.F64) {
    cursor.fail("unknown_value_type", at, `${what} ${tag} at byte ${at} is not a GGUF value type`);
  }
  return tag;
}

/**
 * Reads one value of type `type` at the cursor.
 *
 * @param cursor positioned at the value
 * @param type its tag
 * @param depth how many arrays enclose it
 * @returns the decoded value
 */
export function readValue(cursor: Cursor, type: GgufValueType, depth = 0): GgufValue {
  switch (type) {
    case GgufValueType.U8:
      return cursor.u8("a u8 value");
    case GgufValueType.I8:
      return cursor.fixed(1, "an i8 value", (v, o) => v.getInt8(o));
    case GgufValueType.U16:
      return cursor.fixed(2, "a u16 value", (v, o) => v.getUint16(o, true));
    case GgufValueType.I16:
      return cursor.fixed(2, "an i16 value", (v, o) => v.getInt16(o, true));
    case GgufValueType.U32:
      return cursor.u32("a u32 value");
    case GgufValueType.I32:
      return cursor.fixed(4, "an i32 value", (v, o) => v.getInt32(o, true));
    case GgufValueType.F32:
      return cursor.fixed(4, "an f32 value", (v, o) => v.getFloat32(o, true));
    case GgufValueType.F64:
      return cursor.fixed(8, "an f64 value", (v, o) => v.getFloat64(o, true));
    case GgufValueType.U64: {
      const v = cursor.u64("a u64 value");
      return v > MAX_SAFE ? v : Number(v);
    }
    case GgufValueType.I64: {
      const v = cursor.fixed(8, "an i64 value", (view, o) => view.getBigInt64(o, true));
      return v > MAX_SAFE || v < MIN_SAFE ? v : Number(v);
    }
    case GgufValueType.BOOL: {
      const at = cursor.pos;
      const b = cursor.u8("a bool value");
      if (b > 1) cursor.fail("bad_bool", at, `bool value ${b} at byte ${at} is neither 0 nor 1`);
      return b === 1;
    }
    case GgufValueType.STRING:
      return cursor.string("a string value");
    case GgufValueType.ARRAY:
      return readArray(cursor, depth);
  }
}

function readArray(cursor: Cursor, depth: number): GgufArray {
  const at = cursor.pos;
  if (depth >= MAX_ARRAY_DEPTH) {
    cursor.fail(
      "nesting_too_deep",
      at,
      `array at byte ${at} is nested ${depth + 1} deep, more than the ${MAX_ARRAY_DEPTH} allowed`,
    );
  }
  const elementType = readValueType(cursor, "array element type");
  const count = cursor.count("array length", MIN_BYTES[elementType]!);
  const values = new Array<GgufValue>(count);
  for (let i = 0; i < count; i++) values[i] = readValue(cursor, elementType, depth + 1);
  return { elementType, values };
}
