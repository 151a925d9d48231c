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
 * import assert from "node:assert/strict";
 * import { makeRng } from "./prng.ts";
 * const rng = makeRng(42);
 * const a = rng(), b = rng();
 * assert.ok(a >= 0 && a < 1 && b >= 0 && b < 1 && a !== b);
 * assert.equal(makeRng(42)(), a); // the same seed, the same stream
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
 * @example 10,000 draws have mean about 0 and variance about 1
 * ```ts
 * import assert from "node:assert/strict";
 * import { makeRng, randn } from "./prng.ts";
 * const rng = makeRng(7);
 * const x = Array.from({ length: 10_000 }, () => randn(rng));
 * const mean = x.reduce((s, v) => s + v, 0) / x.length;
 * const variance = x.reduce((s, v) => s + (v - mean) ** 2, 0) / x.length;
 * assert.ok(Math.abs(mean) < 0.05 && Math.abs(variance - 1) < 0.05);
 * ```
 */
export function randn(rng: () => number): number {
  const u1 = 1 - rng(); // (0, 1]: log stays finite
  const u2 = rng();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}
