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
 * @example One value
 * ```ts
 * import { siluMul } from "./silu_mul.ts";
 * console.log(siluMul(new Float32Array([0]), new Float32Array([5]))[0]); // 0
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
