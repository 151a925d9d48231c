/**
 * RoPE settings and the f32 frequency table the rope kernel reads (the host
 * side of `kernels/rope.wgsl`; the CPU twin in `src/reference/rope.ts`
 * rotates with the same table).
 *
 * @module
 */

/** How a model rotates its queries and keys. */
export interface RopeOptions {
  /** "norm" rotates adjacent pairs (x[2i], x[2i+1]); "neox" rotates (x[i], x[i + ropeDim/2]). */
  style: "norm" | "neox";
  /** Values per head. */
  headDim: number;
  /** Leading dimensions of each head that rotate (even, ≤ headDim); the rest stay untouched. */
  ropeDim: number;
  /** Frequency base θ (10000 for Llama 2, 500000 for Llama 3, 1000000 for Qwen2). */
  freqBase: number;
  /** Per-pair divisors of the frequency (`rope_freqs.weight`, Llama 3.1 style), ropeDim/2 values. */
  freqFactors?: Float32Array;
}

/**
 * The f32 angular frequency of each rotated pair, `freqBase^(-2i/ropeDim) / factor[i]`,
 * computed in double precision and rounded once. The GPU kernel reads the same
 * table, so both sides compute the angle `f32(pos) * invFreq[i]` identically.
 *
 * @param options rotation settings
 * @returns ropeDim/2 frequencies
 * @throws {RangeError} when ropeDim is odd, zero or above headDim, or the factors are too few
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ropeInvFreq } from "./rope_freqs.ts";
 * // 10000^(-2i/8) for i = 0..3: 1, 0.1, 0.01, 0.001, each rounded to f32
 * const options = { style: "norm", headDim: 8, ropeDim: 8, freqBase: 10000 } as const;
 * assert.deepEqual([...ropeInvFreq(options)], [1, 0.1, 0.01, 0.001].map(Math.fround));
 * // Llama 3.1's per-pair divisors
 * const halved = ropeInvFreq({ ...options, freqFactors: new Float32Array([2, 2, 2, 2]) });
 * assert.equal(halved[1], Math.fround(0.05));
 * ```
 */
export function ropeInvFreq(options: RopeOptions): Float32Array {
  const { headDim, ropeDim, freqBase, freqFactors } = options;
  if (ropeDim <= 0 || ropeDim % 2 !== 0 || ropeDim > headDim) {
    throw new RangeError(
      `Cannot run rope: rotary dimension ${ropeDim} must be even and within head size ${headDim}`,
    );
  }
  const half = ropeDim / 2;
  if (freqFactors && freqFactors.length < half) {
    throw new RangeError(
      `Cannot run rope: "rope_freqs" has ${freqFactors.length} values, expected ${half}`,
    );
  }
  const inv = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    inv[i] = Math.pow(freqBase, (-2 * i) / ropeDim) / (freqFactors?.[i] ?? 1);
  }
  return inv;
}
