/**
 * The element type of a KV cache (`kvType`): what one K or V element takes in
 * a cache buffer, the WGSL snippet every KV kernel is composed with
 * (`kernels/_kv_elem_f32.wgsl`, `kernels/_kv_elem_f16.wgsl`: `KvVec`,
 * `kv_load`, `kv_store`), the checks of a cache buffer's size, and the
 * host-side encoding of cache contents (uploads, read-backs, the CPU twins).
 *
 * A cache is `[nHeadKv][nSlots][headDim]` in every type; f16 is IEEE
 * binary16, little-endian, 2 bytes per element, rounded to nearest even from
 * f32. Every kernel computes in f32 and rounds only where it stores.
 *
 * @module
 */

import f16Src from "../../../kernels/_kv_elem_f16.wgsl" with { type: "text" };
import f32Src from "../../../kernels/_kv_elem_f32.wgsl" with { type: "text" };

/** Element type of a KV cache: `f32` (the default) or `f16` (half the bytes). */
export type KvType = "f32" | "f16";

/** Every KV cache element type, the default first. */
export const KV_TYPES: readonly KvType[] = ["f32", "f16"];

/** The default element type of every KV op's `kvType` option. */
export const DEFAULT_KV_TYPE: KvType = "f32";

const SNIPPETS: Readonly<Record<KvType, string>> = { f32: f32Src, f16: f16Src };
const ELEMENT_BYTES: Readonly<Record<KvType, number>> = { f32: 4, f16: 2 };

/**
 * Bytes one cache element takes.
 *
 * @param type element type
 * @returns 4 for f32, 2 for f16
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kvElementBytes } from "./kv_elem.ts";
 * assert.equal(kvElementBytes("f16"), 2);
 * ```
 */
export function kvElementBytes(type: KvType): number {
  return ELEMENT_BYTES[type];
}

/**
 * Bytes of a K (or V) cache buffer of `nHeadKv × nSlots × headDim` elements,
 * rounded up to a multiple of 4 (a binding's granularity).
 *
 * @param type element type
 * @param nHeadKv KV heads
 * @param nSlots slots per head
 * @param headDim values per head
 * @returns the buffer size in bytes
 * @example A 2048-slot layer of 8 KV heads × 128
 * ```ts
 * import assert from "node:assert/strict";
 * import { kvCacheBytes } from "./kv_elem.ts";
 * assert.equal(kvCacheBytes("f32", 8, 2048, 128), 8388608);
 * assert.equal(kvCacheBytes("f16", 8, 2048, 128), 4194304);
 * ```
 */
export function kvCacheBytes(
  type: KvType,
  nHeadKv: number,
  nSlots: number,
  headDim: number,
): number {
  return Math.ceil((nHeadKv * nSlots * headDim * kvElementBytes(type)) / 4) * 4;
}

/**
 * The WGSL snippet of an element type; it must come first in a kernel's
 * source (before the Step struct and the kernel).
 *
 * @param type element type
 * @returns the snippet's text
 */
export function kvElemSource(type: KvType): string {
  return `${SNIPPETS[type]}\n`;
}

/**
 * The pipeline label of a KV kernel for an element type: the op name for
 * f32, `op_f16` for f16 (so `--kernels` timings tell them apart).
 *
 * @param op kernel name, e.g. `attention_decode`
 * @param type element type
 * @returns the label
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kvKernelLabel } from "./kv_elem.ts";
 * assert.equal(kvKernelLabel("kv_write", "f16"), "kv_write_f16");
 * ```
 */
export function kvKernelLabel(op: string, type: KvType): string {
  return type === "f32" ? op : `${op}_${type}`;
}

/**
 * Checks a KV kernel's head size: a cache row is read and written in whole
 * groups of 4 elements (`KvVec`).
 *
 * @param op kernel name for the message
 * @param headDim values per head
 * @throws {RangeError} when `headDim` is not a positive multiple of 4
 */
export function requireKvHeadDim(op: string, headDim: number): void {
  if (!Number.isSafeInteger(headDim) || headDim < 4 || headDim % 4 !== 0) {
    throw new RangeError(`Cannot run ${op}: head size ${headDim} is not a multiple of 4`);
  }
}

/**
 * Checks that a cache buffer holds `elements` elements of `type`.
 *
 * @param op kernel name for the message
 * @param name buffer name for the message, e.g. `"k_cache"`
 * @param buffer the bound buffer
 * @param type element type
 * @param elements elements the kernel touches
 * @param shape human-readable shape of those elements, e.g. `"4×512×64"`
 * @throws {RangeError} naming the buffer, its type, the expected and actual size
 */
export function requireKvCache(
  op: string,
  name: string,
  buffer: GPUBuffer,
  type: KvType,
  elements: number,
  shape: string,
): void {
  const bytes = kvElementBytes(type);
  if (buffer.size < elements * bytes) {
    throw new RangeError(
      `Cannot run ${op}: ${type} cache "${name}" holds ${
        Math.floor(buffer.size / bytes)
      } elements, expected ${shape} = ${elements}`,
    );
  }
}

/**
 * Rounds `values` in place to what a cache of `type` holds after storing them
 * (f16: each to the nearest half, ties to even, as the kernels store; f32:
 * unchanged). The CPU twins call it wherever a kernel stores into the cache;
 * pass a `subarray` to round some rows.
 *
 * @param type element type
 * @param values f32 values, overwritten
 * @returns `values`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { roundKvInPlace } from "./kv_elem.ts";
 * // 0.1 has no half; 1 + 2⁻¹¹ lies halfway between 1 and 1 + 2⁻¹⁰ and goes to the even one.
 * const rows = new Float32Array([0.1, 1 + 2 ** -11]);
 * roundKvInPlace("f16", rows);
 * assert.deepEqual([...rows], [0.0999755859375, 1]);
 * ```
 */
export function roundKvInPlace(type: KvType, values: Float32Array): Float32Array {
  if (type === "f16") values.set(new Float16Array(values));
  return values;
}

/**
 * The values a cache of `type` holds after storing `values`, as a new array
 * ({@linkcode roundKvInPlace} on a copy).
 *
 * @param type element type
 * @param values f32 values
 * @returns a new array of the stored values
 */
export function roundKv(type: KvType, values: Float32Array): Float32Array {
  return roundKvInPlace(type, values.slice());
}

/**
 * The bytes of a cache of `type` holding `values` (for uploads and tests).
 *
 * @param type element type
 * @param values f32 values, in cache order
 * @returns the buffer contents (f16: rounded to nearest even)
 * @example Two bytes per half, read back exactly
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeKv, encodeKv } from "./kv_elem.ts";
 * const bytes = encodeKv("f16", new Float32Array([1, -2, 0.5, 65504]));
 * assert.equal(bytes.byteLength, 8);
 * assert.deepEqual([...decodeKv("f16", bytes.buffer)], [1, -2, 0.5, 65504]);
 * ```
 */
export function encodeKv(type: KvType, values: Float32Array): Uint8Array<ArrayBuffer> {
  const typed = type === "f32" ? values.slice() : new Float16Array(values);
  return new Uint8Array(typed.buffer, 0, typed.byteLength);
}

/**
 * The values held in a cache buffer's bytes (for read-backs and tests).
 *
 * @param type element type
 * @param bytes buffer contents from its start
 * @param elements elements to decode (default: all whole elements in `bytes`)
 * @returns the values as f32 (exact)
 */
export function decodeKv(type: KvType, bytes: ArrayBuffer, elements?: number): Float32Array {
  const n = elements ?? Math.floor(bytes.byteLength / kvElementBytes(type));
  return type === "f32"
    ? new Float32Array(bytes.slice(0, n * 4))
    : Float32Array.from(new Float16Array(bytes.slice(0, n * 2)));
}
