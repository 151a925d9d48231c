/**
 * CPU twin of `kernels/silu_mul.wgsl`: the gated feed-forward activation.
 *
 * @module
 */

/**
 * Computes `out[i] = silu(gate[i]) * up[i]` with `silu(x) = x / (1 + e^-x)`.
 *
 * @param gate gate projection (any shape, flattened)
 * @param up up projection, same length
 * @param out optional output, same length; may alias `gate` or `up`
 * @returns the activation
 * @throws {RangeError} when the lengths differ
 * @example A closed gate and an open one
 * ```ts
 * import assert from "node:assert/strict";
 * import { siluMul } from "./silu_mul.ts";
 * const [shut, open] = siluMul(new Float32Array([0, 20]), new Float32Array([5, 0.5]));
 * assert.equal(shut, 0); // silu(0) = 0
 * assert.ok(Math.abs(open! - 10) < 1e-6); // silu(20) = 20 / (1 + e^-20) ≈ 20, times 0.5
 * ```
 */
export function siluMul(
  gate: Float32Array,
  up: Float32Array,
  out: Float32Array = new Float32Array(gate.length),
): Float32Array {
  if (up.length !== gate.length || out.length < gate.length) {
    throw new RangeError(
      `Cannot run siluMul: gate has ${gate.length} values, up ${up.length}, out ${out.length}`,
    );
  }
  for (let i = 0; i < gate.length; i++) {
    const g = gate[i]!;
    out[i] = (g / (1 + Math.exp(-g))) * up[i]!;
  }
  return out;
}
