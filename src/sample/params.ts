/**
 * Sampler settings as a llama.cpp user knows them, with the same defaults,
 * and their validation (errors name the command-line flag).
 *
 * @module
 */

import { UsageError } from "../errors.ts";

/** Sampling settings; the chain runs penalties → top-k → top-p → min-p → temperature → draw. */
export interface SamplerParams {
  /** Softmax temperature; ≤ 0 picks the most likely token (greedy). `--temp` */
  readonly temperature: number;
  /** Keep the k most likely tokens; 0 = off. `--top-k` */
  readonly topK: number;
  /** Keep the smallest set of tokens whose probability reaches p; 1 = off. `--top-p` */
  readonly topP: number;
  /** Keep tokens with probability ≥ minP × the top probability; 0 = off. `--min-p` */
  readonly minP: number;
  /** Divide positive (multiply negative) logits of recent tokens by this; 1 = off. `--repeat-penalty` */
  readonly repeatPenalty: number;
  /** How many recent tokens the penalty looks at; 0 = off. `--repeat-last-n` */
  readonly repeatLastN: number;
  /** Random seed (u32); the same seed gives the same tokens. `--seed` */
  readonly seed: number;
}

/** Largest `repeatLastN` the GPU sampler supports. */
export const MAX_REPEAT_LAST_N = 2048;

/** llama.cpp's defaults (seed 0xFFFFFFFF asks for a random seed, as there). */
export const DEFAULT_SAMPLER_PARAMS: SamplerParams = Object.freeze({
  temperature: 0.8,
  topK: 40,
  topP: 0.95,
  minP: 0.05,
  repeatPenalty: 1.0,
  repeatLastN: 64,
  seed: 0xffffffff,
});

/**
 * Fills in defaults and validates sampler settings.
 *
 * @param given settings to override
 * @returns complete, validated settings
 * @throws {UsageError} naming the flag and the valid range
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { samplerParams } from "./params.ts";
 * const p = samplerParams({ temperature: 0, seed: 42 });
 * assert.equal(p.temperature, 0);
 * assert.equal(p.topK, 40); // llama.cpp's default
 * ```
 */
export function samplerParams(given: Partial<SamplerParams> = {}): SamplerParams {
  const p = { ...DEFAULT_SAMPLER_PARAMS, ...given };
  const check = (ok: boolean, flag: string, range: string, value: number) => {
    if (!ok) throw new UsageError(`Invalid ${flag}: expected ${range}, got ${value}`);
  };
  check(Number.isFinite(p.temperature), "--temp", "a finite number", p.temperature);
  check(Number.isInteger(p.topK) && p.topK >= 0, "--top-k", "an integer ≥ 0", p.topK);
  check(p.topP >= 0 && p.topP <= 1, "--top-p", "a number from 0 to 1", p.topP);
  check(p.minP >= 0 && p.minP <= 1, "--min-p", "a number from 0 to 1", p.minP);
  check(
    Number.isFinite(p.repeatPenalty) && p.repeatPenalty > 0,
    "--repeat-penalty",
    "a number > 0",
    p.repeatPenalty,
  );
  check(
    Number.isInteger(p.repeatLastN) && p.repeatLastN >= 0 && p.repeatLastN <= MAX_REPEAT_LAST_N,
    "--repeat-last-n",
    `an integer from 0 to ${MAX_REPEAT_LAST_N}`,
    p.repeatLastN,
  );
  check(
    Number.isInteger(p.seed) && p.seed >= 0 && p.seed <= 0xffffffff,
    "--seed",
    "an integer from 0 to 4294967295",
    p.seed,
  );
  return p;
}

/**
 * The seed to run with: `seed` itself, or a random u32 when it is 0xFFFFFFFF
 * (llama.cpp's "random seed") or −1 (`--seed -1`, a prompt file's `"seed": -1`).
 *
 * @param seed requested seed
 * @returns a concrete u32 seed
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveSeed } from "./params.ts";
 * assert.equal(resolveSeed(42), 42);
 * const random = resolveSeed(0xffffffff);
 * assert.ok(Number.isInteger(random) && random >= 0 && random < 0xffffffff);
 * ```
 */
export function resolveSeed(seed: number): number {
  return seed === 0xffffffff || seed === -1
    ? crypto.getRandomValues(new Uint32Array(1))[0]! % 0xffffffff
    : seed;
}

/**
 * One line describing the sampler chain, like llama.cpp's "sampler chain" log.
 *
 * @param p validated settings
 * @returns e.g. `penalties(last 64, 1.10) → top-k 40 → top-p 0.95 → min-p 0.05 → temp 0.80 → dist(seed 42)`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeSampler, samplerParams } from "./params.ts";
 * assert.equal(describeSampler(samplerParams({ temperature: 0 })), "greedy");
 * ```
 */
export function describeSampler(p: SamplerParams): string {
  const parts: string[] = [];
  if (p.repeatPenalty !== 1 && p.repeatLastN > 0) {
    parts.push(`penalties(last ${p.repeatLastN}, ${p.repeatPenalty.toFixed(2)})`);
  }
  if (p.temperature <= 0) return [...parts, "greedy"].join(" → ");
  if (p.topK > 0) parts.push(`top-k ${p.topK}`);
  if (p.topP < 1) parts.push(`top-p ${p.topP.toFixed(2)}`);
  if (p.minP > 0) parts.push(`min-p ${p.minP.toFixed(2)}`);
  parts.push(`temp ${p.temperature.toFixed(2)}`, `dist(seed ${p.seed})`);
  return parts.join(" → ");
}
