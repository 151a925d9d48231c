/**
 * One line describing a policy and its settings, for `generate --verbose`
 * and the `compress-inspect` summary: the budget and floor, the sinks, then
 * what the policy's registry row says about its own settings.
 *
 * @module
 */

import type { KvOptions } from "./option_types.ts";
import { createKvPolicy, kvPolicyEntry } from "./registry.ts";

/**
 * Describes validated KV options.
 *
 * @param kv validated KV options
 * @returns e.g. `h2o: budget 64 tokens per layer, floor 128 tokens, 0 sinks, recent ratio 0.5`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeKvOptions } from "./describe.ts";
 * import { resolveKvOptions } from "./options.ts";
 * assert.equal(describeKvOptions(resolveKvOptions({ kv: "full" })), "full (no compression)");
 * assert.equal(
 *   describeKvOptions(resolveKvOptions({ kv: "h2o", kvBudget: 64, skipLayers: "0" })),
 *   "h2o: budget 64 tokens per layer, floor 128 tokens, 0 sinks, recent ratio 0.5, skip layers 0",
 * );
 * ```
 */
export function describeKvOptions(kv: KvOptions): string {
  if (createKvPolicy(kv).spec.decode === "none") return `${kv.policy} (no compression)`;
  const budget = kv.budget.kind === "fraction"
    ? `budget ${kv.budget.value} of the prompt`
    : `budget ${kv.budget.value} tokens per layer`;
  const parts = [`${budget}, floor ${kv.kvMin} tokens`, `${kv.sinks} sinks`];
  parts.push(...kvPolicyEntry(kv.policy)?.describe?.(kv) ?? []);
  if (kv.skipLayers !== null && kv.skipLayers.length > 0) {
    parts.push(`skip layers ${kv.skipLayers.join(",")}`);
  }
  if (kv.selectPer === "query-head") parts.push("selection per query head");
  if (kv.compressAt === "first-decode") parts.push("compressed at the first decode step");
  if (kv.parity) parts.push("parity");
  return `${kv.policy}: ${parts.join(", ")}`;
}

/**
 * Whether options name a policy that compresses (every one but the full cache).
 *
 * @param kv validated KV options
 * @returns false for a policy that keeps every token
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kvCompresses } from "./describe.ts";
 * import { resolveKvOptions } from "./options.ts";
 * assert.equal(kvCompresses(resolveKvOptions({ kv: "h2o" })), true);
 * assert.equal(kvCompresses(resolveKvOptions({ kv: "full" })), false);
 * ```
 */
export function kvCompresses(kv: KvOptions): boolean {
  return createKvPolicy(kv).spec.decode !== "none";
}
