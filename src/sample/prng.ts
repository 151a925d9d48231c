/**
 * A small seeded pseudo-random generator for synthetic data (benchmarks,
 * fixtures, tests): mulberry32
 * for uniforms and Box-Muller for normals. Same seed, same sequence, on every
 * platform.
 *
 * @module
 */

/**
 * Makes a uniform generator (mulberry32) from a 32-bit seed.
 *
 * @param seed any number; only its low 32 bits are used
 * @returns a function giving uniform floats in [0, 1)
 * @example Draw two numbers
 * ```ts
 * import { makeRng } from "./prng.ts";
 * const rng = makeRng(42);
 * const a = rng(), b = rng();
 * console.log(a >= 0 && a < 1 && b >= 0 && b < 1); // true
 * ```
 */
export function makeRng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Draws one standard normal value (mean 0, variance 1) with the Box-Muller
 * transform, consuming two uniforms.
 *
 * @param rng a uniform generator from {@linkcode makeRng}
 * @returns a normally distributed number
 * @example Fill a vector with N(0, 0.02²) values
 * ```ts
 * import { makeRng, randn } from "./prng.ts";
 * const rng = makeRng(7);
 * const w = Float32Array.from({ length: 4 }, () => 0.02 * randn(rng));
 * console.log(w.length); // 4
 * ```
 */
export function randn(rng: () => number): number {
  const u1 = 1 - rng(); // (0, 1]: log stays finite
  const u2 = rng();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}
