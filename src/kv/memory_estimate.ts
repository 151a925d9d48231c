/**
 * What one sequence's KV cache costs, for admission under a memory cap
 * (`--kv-memory`): a compressing policy is charged its budget, not the full
 * length. Before a prompt runs, the charge comes from the plan the policy
 * gives for that prompt length without prefill statistics
 * (`KvPolicy.estimatePlan`); once the prompt is compressed, the cache's real
 * allocation replaces it.
 *
 * @module
 */

import type { KvTypes } from "../gpu/ops/kv_elem.ts";
import { kvBytesPerToken } from "./cache.ts";
import { layerSlots } from "./layer_spec.ts";
import type { KvOptions } from "./option_types.ts";
import type { KvShape } from "./policy.ts";
import { createKvPolicy } from "./registry.ts";

/**
 * KV bytes a sequence's cache allocates (every layer, K and V in their element types).
 *
 * @param kv the policy; absent: the plain full cache (`capacity` slots per layer)
 * @param shape the model's KV shape
 * @param promptLength the prompt's tokens `T'`
 * @param capacity most positions the sequence reaches (the slots' context)
 * @param kvTypes element types of the keys and the values
 * @returns bytes
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sequenceKvBytes } from "./memory_estimate.ts";
 * import { resolveKvOptions } from "./options.ts";
 * const shape = { nLayer: 2, nHead: 4, nHeadKv: 2, headDim: 8 };
 * const f32 = { k: "f32", v: "f32" } as const;
 * assert.equal(sequenceKvBytes(undefined, shape, 100, 120, f32), 30720);
 * assert.equal(sequenceKvBytes(undefined, shape, 100, 120, { k: "f16", v: "f16" }), 15360);
 * const h2o = resolveKvOptions({ kv: "h2o", kvBudget: 0.2, kvMin: 4 });
 * assert.equal(sequenceKvBytes(h2o, shape, 100, 120, f32), 5376);
 * ```
 */
export function sequenceKvBytes(
  kv: KvOptions | undefined,
  shape: KvShape,
  promptLength: number,
  capacity: number,
  kvTypes: KvTypes,
): number {
  const perToken = kvBytesPerToken(shape, kvTypes);
  if (!kv) return shape.nLayer * capacity * perToken;
  const policy = createKvPolicy(kv);
  const stats = { promptLength, capacity };
  const plan = policy.estimatePlan(shape, stats);
  const slots = plan.layers.reduce(
    (s, budget) => s + layerSlots(policy.spec, budget, promptLength, capacity),
    0,
  );
  return slots * perToken;
}
