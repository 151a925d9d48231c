/**
 * CPU twins of the roofline microbenchmarks (scripts/bench/roofline_read.wgsl
 * and scripts/bench/roofline_fma.wgsl): the same sums and recurrences, so their tests
 * show the GPU really read every byte and ran every step it was timed for.
 *
 * @module
 */

/**
 * The read reduction over vec4: workgroup w of `wg` threads covers vec4
 * `span·w .. span·(w+1)`, thread l of it sums every wg-th vec4 of that span
 * from l, the k-th into partial sum k mod 4 (f32, in index order);
 * `out[w·wg + l]` is (s0 + s1) + (s2 + s3).
 *
 * @example Two workgroups of one thread, four vec4 each
 * ```ts
 * import assert from "node:assert/strict";
 * import { readReduction } from "./roofline.ts";
 * // vec4 i holds (i, i, i, i)
 * const src = Float32Array.from({ length: 32 }, (_, i) => Math.floor(i / 4));
 * const out = readReduction(src, 2, 1, 4);
 * assert.deepEqual([...out], [6, 6, 6, 6, 22, 22, 22, 22]); // 0+1+2+3, 4+5+6+7
 * ```
 *
 * @param src the streamed values, a whole number of vec4
 * @param workgroups workgroups of the dispatch
 * @param wg threads per workgroup
 * @param span vec4 per workgroup
 * @returns `workgroups · wg` vec4 of partial sums
 */
export function readReduction(
  src: Float32Array,
  workgroups: number,
  wg: number,
  span: number,
): Float32Array {
  const out = new Float32Array(4 * workgroups * wg);
  const count = src.length / 4;
  const sums = new Float32Array(16);
  for (let t = 0; t < workgroups * wg; t++) {
    const w = Math.floor(t / wg);
    const end = Math.min(span * (w + 1), count);
    sums.fill(0);
    for (let i = span * w + (t % wg), k = 0; i < end; i += wg, k++) {
      for (let l = 0; l < 4; l++) sums[4 * (k % 4) + l] = sums[4 * (k % 4) + l]! + src[4 * i + l]!;
    }
    for (let l = 0; l < 4; l++) {
      out[4 * t + l] = Math.fround(sums[l]! + sums[4 + l]!) +
        Math.fround(sums[8 + l]! + sums[12 + l]!);
    }
  }
  return out;
}

/**
 * The chains of roofline_fma: per invocation t and lane l, chains
 * k < `chains` start at (t + k + l/4) / 1024 and step a ← a·b + c `iters`
 * times (rounded to f32 each step); the result is their sum.
 *
 * @example One invocation, one step
 * ```ts
 * import assert from "node:assert/strict";
 * import { fmaChains } from "./roofline.ts";
 * // lane l: Σ_k ((k + l/4)/1024 · 0.5 + 1) = 4 + (6 + l)/2048, exact in f32
 * assert.deepEqual([...fmaChains(1, 4, 1, 0.5, 1)], [0, 1, 2, 3].map((l) => 4 + (6 + l) / 2048));
 * ```
 *
 * @param threads invocations
 * @param chains vec4 chains per invocation (FMA_CHAINS)
 * @param iters steps per chain
 * @param b multiplier
 * @param c addend
 * @returns `threads` vec4
 */
export function fmaChains(
  threads: number,
  chains: number,
  iters: number,
  b: number,
  c: number,
): Float32Array {
  const fb = Math.fround(b);
  const fc = Math.fround(c);
  const out = new Float32Array(4 * threads);
  for (let t = 0; t < threads; t++) {
    for (let l = 0; l < 4; l++) {
      let sum = 0;
      for (let k = 0; k < chains; k++) {
        let a = Math.fround((t + k + l / 4) / 1024);
        for (let i = 0; i < iters; i++) a = Math.fround(a * fb + fc);
        sum += a;
      }
      out[4 * t + l] = sum;
    }
  }
  return out;
}
