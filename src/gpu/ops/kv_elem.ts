/**
 * The element types of a KV cache (`kvTypes`: one for the keys, one for the
 * values, as llama.cpp's `-ctk` and `-ctv`): what one K or V element takes in
 * a cache buffer, the WGSL every KV kernel is composed with
 * (`kernels/_kv_elem_f32.wgsl`, `kernels/_kv_elem_f16.wgsl`, once as the keys'
 * `KVec`, `k_load`, `k_store` and once as the values' `VVec`, `v_load`,
 * `v_store`), the checks of a cache buffer's size, and the host-side encoding
 * of cache contents (uploads, read-backs, the CPU twins).
 *
 * A cache is `[nHeadKv][nSlots][headDim]` in every type; f16 is IEEE
 * binary16, little-endian, 2 bytes per element, rounded to nearest even from
 * f32. Every kernel computes in f32 and rounds only where it stores.
 *
 * @module
 */

import f16Src from "../../../kernels/_kv_elem_f16.wgsl" with { type: "text" };
import f32Src from "../../../kernels/_kv_elem_f32.wgsl" with { type: "text" };

/** Element type of a KV cache's keys or values: `f32` (the default) or `f16` (half the bytes). */
export type KvType = "f32" | "f16";

/** Every KV cache element type, the default first. */
export const KV_TYPES: readonly KvType[] = ["f32", "f16"];

/** The element types of a cache's keys and of its values (they may differ). */
export interface KvTypes {
  /** Keys' element type. */
  readonly k: KvType;
  /** Values' element type. */
  readonly v: KvType;
}

/** The default of every KV op's `kvTypes` option: f32 keys and values. */
export const DEFAULT_KV_TYPES: KvTypes = { k: "f32", v: "f32" };

/**
 * The element type a run's cache gets when none is asked for: f16 where the
 * adapter has `shader-f16` (llama.cpp's default cache), else f32.
 *
 * @param adapterHasF16 whether the adapter offers `shader-f16`
 * @returns the type
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { adapterKvType } from "./kv_elem.ts";
 * assert.deepEqual([adapterKvType(true), adapterKvType(false)], ["f16", "f32"]);
 * ```
 */
export function adapterKvType(adapterHasF16: boolean): KvType {
  return adapterHasF16 ? "f16" : "f32";
}

/**
 * The element types of a cache.
 *
 * @param k keys' element type
 * @param v values' element type (default: the keys')
 * @returns the pair
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kvTypes } from "./kv_elem.ts";
 * assert.deepEqual(kvTypes("f16"), { k: "f16", v: "f16" });
 * assert.deepEqual(kvTypes("f16", "f32"), { k: "f16", v: "f32" });
 * ```
 */
export function kvTypes(k: KvType, v: KvType = k): KvTypes {
  return { k, v };
}

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
 * A cache's element types in words: the type when keys and values share it,
 * else both.
 *
 * @param types the keys' and the values' element types
 * @returns e.g. `f16`, or `K f16, V f32`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeKvTypes } from "./kv_elem.ts";
 * assert.equal(describeKvTypes({ k: "f16", v: "f16" }), "f16");
 * assert.equal(describeKvTypes({ k: "f16", v: "f32" }), "K f16, V f32");
 * ```
 */
export function describeKvTypes(types: KvTypes): string {
  return types.k === types.v ? types.k : `K ${types.k}, V ${types.v}`;
}

/**
 * One element type's snippet, its comment lines dropped, with its names
 * prefixed for the keys (`k`) or the values (`v`).
 */
function renamedSnippet(type: KvType, prefix: "k" | "v"): string {
  const vec = prefix === "k" ? "KVec" : "VVec";
  return SNIPPETS[type]
    .replace(/^\/\/.*\n/gm, "")
    .replace(/\bKvVec\b/g, vec)
    .replace(/\bkv_load\b/g, `${prefix}_load`)
    .replace(/\bkv_store\b/g, `${prefix}_store`);
}

/**
 * The WGSL of a cache's element types: the keys' format as `KVec`, `k_load`,
 * `k_store` and the values' as `VVec`, `v_load`, `v_store`. It must come first
 * in a kernel's source (before the Step struct and the kernel).
 *
 * @param types the keys' and the values' element types
 * @returns the snippets' text
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kvElemSource } from "./kv_elem.ts";
 * const src = kvElemSource({ k: "f16", v: "f32" });
 * assert.match(src, /alias KVec = vec2<u32>;/);
 * assert.match(src, /alias VVec = vec4<f32>;/);
 * assert.doesNotMatch(src, /kv_load|KvVec/);
 * ```
 */
export function kvElemSource(types: KvTypes): string {
  return `${renamedSnippet(types.k, "k")}\n${renamedSnippet(types.v, "v")}\n`;
}

/**
 * The pipeline label of a KV kernel for a cache's element types: the op name
 * for f32 keys and values, `op_f16` for f16 ones, `op_k<type>_v<type>` for a
 * mixed pair (so `--kernels` timings tell them apart).
 *
 * @param op kernel name, e.g. `attention_decode`
 * @param types the keys' and the values' element types
 * @returns the label
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kvKernelLabel } from "./kv_elem.ts";
 * assert.equal(kvKernelLabel("kv_write", { k: "f16", v: "f16" }), "kv_write_f16");
 * assert.equal(kvKernelLabel("kv_write", { k: "f16", v: "f32" }), "kv_write_kf16_vf32");
 * ```
 */
export function kvKernelLabel(op: string, types: KvTypes): string {
  if (types.k !== types.v) return `${op}_k${types.k}_v${types.v}`;
  return types.k === "f32" ? op : `${op}_${types.k}`;
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
