/**
 * CPU twin of `kernels/add.wgsl`: residual add and bias add, in place.
 *
 * @module
 */

/**
 * Adds `b` into `a` element by element (the residual connection).
 *
 * @param a accumulator, updated in place
 * @param b addend, same length
 * @returns `a`
 * @throws {RangeError} when the lengths differ
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { addInPlace } from "./add.ts";
 * const a = new Float32Array([1, 2]);
 * addInPlace(a, new Float32Array([3, 4]));
 * assert.deepEqual([...a], [4, 6]);
 * ```
 */
export function addInPlace(a: Float32Array, b: Float32Array): Float32Array {
  if (a.length !== b.length) {
    throw new RangeError(`Cannot run addInPlace: a has ${a.length} values, b ${b.length}`);
  }
  for (let i = 0; i < a.length; i++) a[i] = a[i]! + b[i]!;
  return a;
}

/**
 * Adds a bias vector to every row of `a` (e.g. Qwen2's Q/K/V biases).
 *
 * @param a rows × bias.length, updated in place
 * @param bias one row
 * @returns `a`
 * @throws {RangeError} when `a` is not a whole number of rows
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { addBias } from "./add.ts";
 * const rows = addBias(new Float32Array([1, 2, 3, 4]), new Float32Array([10, 20])); // 2 rows of 2
 * assert.deepEqual([...rows], [11, 22, 13, 24]);
 * ```
 */
export function addBias(a: Float32Array, bias: Float32Array): Float32Array {
  const n = bias.length;
  if (n === 0 || a.length % n !== 0) {
    throw new RangeError(`Cannot run addBias: a has ${a.length} values, not rows of ${n}`);
  }
  for (let i = 0; i < a.length; i++) a[i] = a[i]! + bias[i % n]!;
  return a;
}
