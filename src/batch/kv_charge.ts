/**
 * What one sequence's KV cache costs, for admission under a memory cap
 * (`--kv-memory`): a compressing policy is charged its budget, not the full
 * length. Before a prompt runs, the charge comes from the policy's plan for
 * that prompt length (a policy that plans from the prompt's attention, d2o,
 * is charged the uniform plan of the same total); once the prompt is
 * compressed, the cache's real allocation replaces it.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import { uniformPlan } from "../kv/budget.ts";
import { kvBytesPerToken } from "../kv/cache.ts";
import { layerSlots } from "../kv/layer_spec.ts";
import type { KvOptions } from "../kv/options.ts";
import type { KvShape } from "../kv/policy.ts";
import { createKvPolicy } from "../kv/registry.ts";

/**
 * KV bytes a sequence's cache allocates (every layer, K and V, f32).
 *
 * @param kv the policy; absent: the plain full cache (`capacity` slots per layer)
 * @param shape the model's KV shape
 * @param promptLength the prompt's tokens `T'`
 * @param capacity most positions the sequence reaches (the slots' context)
 * @returns bytes
 * @example
 * ```ts
 * import { sequenceKvBytes } from "./kv_charge.ts";
 * import { resolveKvOptions } from "../kv/options.ts";
 * const shape = { nLayer: 2, nHead: 4, nHeadKv: 2, headDim: 8 };
 * console.log(sequenceKvBytes(undefined, shape, 100, 120)); // 15360
 * console.log(sequenceKvBytes(resolveKvOptions({ kv: "h2o", kvBudget: 0.2, kvMin: 4 }), shape, 100, 120));
 * ```
 */
export function sequenceKvBytes(
  kv: KvOptions | undefined,
  shape: KvShape,
  promptLength: number,
  capacity: number,
): number {
  const perToken = kvBytesPerToken(shape);
  if (!kv) return shape.nLayer * capacity * perToken;
  const policy = createKvPolicy(kv);
  const stats = { promptLength, capacity };
  const plan = policy.spec.headVariance
    ? uniformPlan(kv, shape, stats, kv.recentRatio)
    : policy.plan(shape, stats);
  const slots = plan.layers.reduce(
    (s, budget) => s + layerSlots(policy.spec, budget, promptLength, capacity),
    0,
  );
  return slots * perToken;
}

/**
 * Parses a byte size: a number with an optional unit B, KB/MB/GB (powers of
 * 1000) or KiB/MiB/GiB (powers of 1024), e.g. `256MiB`, `1.5GB`, `4096`.
 *
 * @param text the size as typed
 * @param flag the flag it came from (for the error)
 * @returns bytes (a positive integer)
 * @throws {UsageError} for anything else
 * @example
 * ```ts
 * import { parseByteSize } from "./kv_charge.ts";
 * console.log(parseByteSize("256MiB", "--kv-memory")); // 268435456
 * ```
 */
export function parseByteSize(text: string, flag: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?\s*$/i.exec(text);
  const units: Record<string, number> = {
    b: 1,
    kb: 1e3,
    mb: 1e6,
    gb: 1e9,
    tb: 1e12,
    kib: 2 ** 10,
    mib: 2 ** 20,
    gib: 2 ** 30,
    tib: 2 ** 40,
  };
  const bytes = m ? Math.floor(Number(m[1]) * units[(m[2] ?? "b").toLowerCase()]!) : NaN;
  if (!Number.isSafeInteger(bytes) || bytes < 1) {
    throw new UsageError(
      `Cannot read ${flag} "${text}": expected a size such as 256MiB, 1.5GB or 4096 (bytes)`,
    );
  }
  return bytes;
}
