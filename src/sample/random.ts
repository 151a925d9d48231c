/**
 * The sampler's counter-based random numbers, bit-identical to
 * `kernels/_random.wgsl`: a PCG hash of (seed, counter), so the GPU and the
 * CPU twin draw the same number for the same step.
 *
 * @module
 */

/**
 * The PCG-RXS-M-XS 32-bit hash (Jarzynski & Olano, "Hash Functions for GPU Rendering").
 *
 * @param v input word
 * @returns hashed u32
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pcgHash } from "./random.ts";
 * assert.equal(pcgHash(0), 129708002); // the WGSL kernel gives the same
 * assert.equal(pcgHash(1), 2831084092);
 * ```
 */
export function pcgHash(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/**
 * A uniform number in [0, 1) with 24 random bits (exact in f32) for draw
 * `counter` of stream `seed`.
 *
 * @param seed stream seed (u32)
 * @param counter draw index (u32), e.g. the number of tokens accepted so far
 * @returns u in [0, 1)
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { randomUnit } from "./random.ts";
 * const u = randomUnit(42, 0);
 * assert.ok(u >= 0 && u < 1);
 * assert.equal(randomUnit(42, 0), u); // the same seed and counter, the same draw
 * assert.notEqual(randomUnit(42, 1), u);
 * ```
 */
export function randomUnit(seed: number, counter: number): number {
  return (pcgHash((seed ^ pcgHash(counter)) >>> 0) >>> 8) / 16777216;
}
