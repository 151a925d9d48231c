/**
 * CPU twin of `kernels/rope.wgsl`: rotary position embedding in the llama
 * ("norm", adjacent pairs) and NeoX/Qwen2 ("neox", halves) styles.
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
 * import { ropeInvFreq } from "./rope.ts";
 * const f = ropeInvFreq({ style: "norm", headDim: 8, ropeDim: 8, freqBase: 10000 });
 * console.log(f.length, f[0]); // 4 1
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
 * @example Position 0 leaves the vector unchanged
 * ```ts
 * import { rope } from "./rope.ts";
 * const x = rope(new Float32Array([1, 2]), 1, 1, 0, { style: "norm", headDim: 2, ropeDim: 2, freqBase: 1e4 });
 * console.log([...x]); // [1, 2]
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
