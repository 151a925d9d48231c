/**
 * CPU twin of `kernels/rope.wgsl`: rotary position embedding in the llama
 * ("norm", adjacent pairs) and NeoX/Qwen2 ("neox", halves) styles.
 *
 * @module
 */

import { ropeInvFreq, type RopeOptions } from "../gpu/ops/rope_freqs.ts";

/** The rotation settings and frequency table, shared with the GPU op. */
export { ropeInvFreq, type RopeOptions } from "../gpu/ops/rope_freqs.ts";

/**
 * Rotates, in place, `tokens` tokens × `nHeads` heads × `headDim` values; token
 * `t` sits at position `pos0 + t`. Pair `i` turns by `θ_i = f32(pos · invFreq[i])`.
 *
 * @param x activations (tokens × nHeads × headDim), rotated in place
 * @param tokens number of tokens
 * @param nHeads heads per token
 * @param pos0 position of the first token
 * @param options rotation settings
 * @returns `x`
 * @throws {RangeError} when `x` is shorter than tokens × nHeads × headDim
 * @example Position 0 leaves the vector unchanged; position 1 turns the first pair by 1 radian
 * ```ts
 * import assert from "node:assert/strict";
 * import { rope } from "./rope.ts";
 * const options = { style: "norm", headDim: 2, ropeDim: 2, freqBase: 1e4 } as const;
 * assert.deepEqual([...rope(new Float32Array([1, 2]), 1, 1, 0, options)], [1, 2]);
 * // the first pair's frequency is freqBase^0 = 1
 * const [x, y] = rope(new Float32Array([1, 0]), 1, 1, 1, options);
 * assert.ok(Math.abs(x! - Math.cos(1)) < 1e-7 && Math.abs(y! - Math.sin(1)) < 1e-7);
 * ```
 */
export function rope(
  x: Float32Array,
  tokens: number,
  nHeads: number,
  pos0: number,
  options: RopeOptions,
): Float32Array {
  const { headDim, style } = options;
  const invFreq = ropeInvFreq(options);
  const half = invFreq.length;
  if (x.length < tokens * nHeads * headDim) {
    throw new RangeError(
      `Cannot run rope: input has ${x.length} values, expected ${tokens}×${nHeads}×${headDim}`,
    );
  }
  for (let t = 0; t < tokens; t++) {
    for (let h = 0; h < nHeads; h++) {
      const base = (t * nHeads + h) * headDim; // x[t][h][:]
      for (let i = 0; i < half; i++) {
        const theta = Math.fround((pos0 + t) * invFreq[i]!);
        const c = Math.cos(theta);
        const s = Math.sin(theta);
        const a = style === "neox" ? base + i : base + 2 * i;
        const b = style === "neox" ? base + i + half : a + 1;
        const x0 = x[a]!;
        const x1 = x[b]!;
        x[a] = x0 * c - x1 * s;
        x[b] = x0 * s + x1 * c;
      }
    }
  }
  return x;
}
