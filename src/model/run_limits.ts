/**
 * Every limit that can refuse a run, checked before any output and before
 * the weights upload, from what the model file's header, the options and the
 * adapter say: one function, {@linkcode checkRunLimits}, for `generate` (one
 * prompt or each prompt of `--prompts`), `compress-inspect` and `profile`.
 *
 * - the context (`-c`): what d2o takes, the largest storage binding one
 *   layer's K (or V) cache may have, and the slots the KV compression kernel
 *   fills in one layer, for every layer whose cache is as long as the context
 *   (kept whole, or growing as it decodes);
 * - each prompt: room for itself and one generated token, its layers' slots
 *   under the policy's plan, and `--kv-memory` (a prompt whose cache can
 *   never fit);
 * - the warning for a context past the trained one.
 *
 * Messages name the flag to change and its largest usable value. KV bytes
 * are counted in the cache's element types (`kvTypes`: `-ctk`, `-ctv`).
 *
 * @module
 */

import { LimitError } from "../errors.ts";
import type { AdapterLimits } from "../gpu/device.ts";
import { KV_COMPRESS_MAX_SLOT_VALUES } from "../gpu/ops/kv_compress.ts";
import { DEFAULT_KV_TYPES, type KvTypes } from "../gpu/ops/kv_elem.ts";
import { kvWidestBytesPerToken } from "../kv/cache.ts";
import { layerSlots } from "../kv/layer_spec.ts";
import { sequenceKvBytes } from "../kv/memory_estimate.ts";
import type { KvOptions } from "../kv/option_types.ts";
import type { KvPolicy, KvShape } from "../kv/policy.ts";
import { createKvPolicy } from "../kv/registry.ts";
import { promptFitError } from "./generation.ts";
import { HPARAM_LIMITS } from "./hparam_bounds.ts";
import type { ModelHParams } from "./hparams.ts";
import { kvRepeat } from "./repeat_kv.ts";

/** One prompt to check, with the name a message gives it (default `a prompt`). */
export interface PromptToCheck {
  /** Its tokens. */
  readonly length: number;
  /** How a message names it, e.g. `prompt "a"`. */
  readonly name?: string;
}

/** What a run asks for. */
export interface RunLimitsInput {
  /** The model file's hyper-parameters. */
  readonly hparams: ModelHParams;
  /** The context (`-c/--ctx`). */
  readonly nCtx: number;
  /** The KV options; absent: the plain full cache (slot = position, no compression kernel). */
  readonly kv: KvOptions | undefined;
  /** The adapter's buffer limits (absent: no adapter, which the load reports). */
  readonly adapter: AdapterLimits | undefined;
  /** The prompts, in order. */
  readonly prompts?: readonly PromptToCheck[];
  /** `--kv-memory`: KV bytes all running sequences may hold together. */
  readonly kvMemory?: number | undefined;
  /** Element types of the cache's keys and values (`-ctk`, `-ctv`; default f32 both). */
  readonly kvTypes?: KvTypes;
}

/** One prompt's verdict. */
export interface PromptLimit {
  /** Why it cannot run, if it cannot. */
  readonly error: LimitError | undefined;
  /** KV bytes its cache is charged before its prompt runs (admission under `--kv-memory`). */
  readonly kvBytes: number;
}

/** What the checks found that does not refuse the whole run. */
export interface RunLimits {
  /** The line to print on stderr before any output: a context past the trained one. */
  readonly warning: string | undefined;
  /** Per prompt of the input, in order. */
  readonly prompts: readonly PromptLimit[];
}

/**
 * Checks a run's context, prompts and memory cap before anything is uploaded
 * or printed.
 *
 * @param input the model, the context, the KV options, the adapter's limits, the prompts, the cap
 * @returns the warning to print and each prompt's verdict
 * @throws {LimitError} when the context cannot run at all (naming `-c`, its largest usable
 *   value and the layers that need it)
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkRunLimits } from "./run_limits.ts";
 * import { resolveKvOptions } from "../kv/options.ts";
 * const hparams = { nLayer: 5, nHead: 8, nHeadKv: 4, headDim: 8, nCtxTrain: 2048 } as never;
 * const kv = resolveKvOptions({ kv: "full" });
 * assert.throws(
 *   () => checkRunLimits({ hparams, nCtx: 600000, kv, adapter: undefined }),
 *   /layers 0-4 .*at most 524280 tokens here; lower -c\/--ctx/,
 * );
 * const ok = checkRunLimits({ hparams, nCtx: 4096, kv, adapter: undefined, prompts: [{ length: 9 }] });
 * assert.match(ok.warning!, /past the model's trained context of 2048/);
 * assert.equal(ok.prompts[0]!.error, undefined);
 * ```
 */
export function checkRunLimits(input: RunLimitsInput): RunLimits {
  const { hparams: hp, nCtx, kv } = input;
  if (!Number.isSafeInteger(nCtx) || nCtx < 1) {
    throw new LimitError(`Cannot use a context of ${nCtx} tokens: expected a positive integer`);
  }
  const shape = cacheShape(hp, kv);
  const policy = kv ? createKvPolicy(kv) : undefined;
  const kvTypes = input.kvTypes ?? DEFAULT_KV_TYPES;
  checkContext(shape, nCtx, input.adapter, kv && policy ? { kv, policy } : undefined, kvTypes);
  const prompts = (input.prompts ?? []).map((p) =>
    promptLimit(p, { hp, shape, nCtx, kv, policy, kvMemory: input.kvMemory, kvTypes })
  );
  const warning = nCtx > hp.nCtxTrain
    ? `d2o: warning: a context of ${nCtx} tokens is past the model's trained context of ` +
      `${hp.nCtxTrain}; the text may degrade past it`
    : undefined;
  return { warning, prompts };
}

/**
 * The largest slot count the KV compression kernel fills in one layer at a head size.
 *
 * @param headDim values per head
 * @returns slots
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compressSlotLimit } from "./run_limits.ts";
 * assert.deepEqual([compressSlotLimit(64), compressSlotLimit(8)], [65535, 524280]);
 * ```
 */
export function compressSlotLimit(headDim: number): number {
  return Math.floor(KV_COMPRESS_MAX_SLOT_VALUES / headDim);
}

/** The cache's shape: the model's, with its KV heads repeated under `--select-per query-head`. */
function cacheShape(hp: ModelHParams, kv: KvOptions | undefined): KvShape {
  const group = kv ? kvRepeat(hp, kv.selectPer) : 1;
  return { nLayer: hp.nLayer, nHead: hp.nHead, nHeadKv: hp.nHeadKv * group, headDim: hp.headDim };
}

/** One bound on the context: the most tokens it allows, and what a message says of it. */
interface ContextBound {
  readonly most: number;
  /** What is limited, after "Cannot use a context of N tokens". */
  readonly what: string;
  /** Why, before ", so at most M tokens here". */
  readonly why: string;
}

/** Refuses a context past d2o's bound, the GPU's binding or the compression kernel's slots. */
function checkContext(
  shape: KvShape,
  nCtx: number,
  adapter: AdapterLimits | undefined,
  policy: { kv: KvOptions; policy: KvPolicy } | undefined,
  kvTypes: KvTypes,
): void {
  const most = HPARAM_LIMITS.nCtxTrain;
  if (nCtx > most) {
    throw new LimitError(
      `Cannot use a context of ${nCtx} tokens: d2o takes at most ${most}; lower -c/--ctx`,
    );
  }
  const bounds: ContextBound[] = [];
  const perToken = kvWidestBytesPerToken(shape, kvTypes); // one layer's K or V, the wider
  const wider = kvTypes.k === "f16" && kvTypes.v === "f32" ? "V" : "K";
  const binding = adapter?.maxStorageBufferBindingSize;
  if (binding !== undefined) {
    bounds.push({
      most: Math.floor(binding / perToken),
      what: "",
      why:
        `one layer's uncompressed ${wider} cache would take ${mib(nCtx * perToken)}, more than ` +
        `this GPU binds (${mib(binding)})`,
    });
  }
  if (policy) bounds.push(...wholeLayerBounds(shape, nCtx, policy.kv, policy.policy));
  const broken = bounds.filter((b) => nCtx > b.most);
  if (broken.length === 0) return;
  const usable = Math.min(...bounds.map((b) => b.most));
  const first = broken[0]!;
  throw new LimitError(
    `Cannot use a context of ${nCtx} tokens${first.what}: ${first.why}, so at most ${usable} ` +
      `tokens here; lower -c/--ctx`,
  );
}

/**
 * The compression kernel's bound for the layers whose cache is as long as
 * the context whatever the prompt: kept whole (`--kv full`, `--skip-layers`,
 * `--parity`'s defaults) or growing as they decode.
 */
function wholeLayerBounds(
  shape: KvShape,
  nCtx: number,
  kv: KvOptions,
  policy: KvPolicy,
): ContextBound[] {
  const plan = policy.estimatePlan(shape, { promptLength: 1, capacity: nCtx });
  const whole: number[] = [];
  const grow: number[] = [];
  plan.layers.forEach((budget, l) => {
    if (!budget.compressed) whole.push(l);
    else if (layerSlots(policy.spec, budget, 1, nCtx) >= nCtx) grow.push(l);
  });
  if (whole.length + grow.length === 0) return [];
  const slots = compressSlotLimit(shape.headDim);
  const reasons = [
    whole.length > 0 ? `${layerList(whole)} kept whole (${wholeReason(kv)})` : "",
    grow.length > 0 ? `${layerList(grow)} growing to the context (${kv.policy})` : "",
  ].filter((r) => r !== "");
  return [{
    most: slots,
    what: ` for ${reasons.join(" and ")}`,
    why: `the KV compression kernel fills at most ${slots} slots per layer at head size ` +
      `${shape.headDim}`,
  }];
}

/** Why a policy keeps layers whole, in flags. */
function wholeReason(kv: KvOptions): string {
  if (kv.policy === "full") return "--kv full keeps every layer";
  if (kv.skipLayers !== null) return "--skip-layers";
  return kv.parity ? "--parity's default --skip-layers" : `--kv ${kv.policy}`;
}

/** What {@linkcode promptLimit} reads. */
interface PromptContext {
  readonly hp: ModelHParams;
  readonly shape: KvShape;
  readonly nCtx: number;
  readonly kv: KvOptions | undefined;
  readonly policy: KvPolicy | undefined;
  readonly kvMemory: number | undefined;
  readonly kvTypes: KvTypes;
}

/** One prompt: room in the context, its layers' slots, its cache under the cap. */
function promptLimit(prompt: PromptToCheck, c: PromptContext): PromptLimit {
  const name = prompt.name ?? "a prompt";
  const T = prompt.length;
  const unfit = promptFitError(T, c.nCtx, c.hp.nCtxTrain, name);
  if (unfit) return { error: unfit, kvBytes: 0 };
  const kvBytes = sequenceKvBytes(c.kv, c.shape, T, c.nCtx, c.kvTypes);
  if (c.policy) {
    const plan = c.policy.estimatePlan(c.shape, { promptLength: T, capacity: c.nCtx });
    const slots = plan.layers.map((b) => layerSlots(c.policy!.spec, b, T, c.nCtx));
    const most = compressSlotLimit(c.shape.headDim);
    const over = slots.flatMap((s, l) => s > most ? [l] : []);
    if (over.length > 0) {
      const error = new LimitError(
        `Cannot run ${name} of ${T} tokens: ${layerList(over)} would keep ` +
          `${Math.max(...slots)} slots, and the KV compression kernel fills at most ${most} per ` +
          `layer at head size ${c.shape.headDim}; shorten it or lower --kv-budget`,
      );
      return { error, kvBytes };
    }
  }
  if (c.kvMemory !== undefined && kvBytes > c.kvMemory) {
    const error = new LimitError(
      `Cannot run ${name}: its KV cache needs ${mib(kvBytes)} (${kvBytes} bytes), more than ` +
        `--kv-memory's ${mib(c.kvMemory)}; raise --kv-memory or shorten it`,
    );
    return { error, kvBytes };
  }
  return { error: undefined, kvBytes };
}

/**
 * Layers as a message names them: `layer 3`, `layers 0-4`, `layers 0, 1 and 23`.
 *
 * @param layers ascending layer indices (at least one)
 */
function layerList(layers: readonly number[]): string {
  if (layers.length === 1) return `layer ${layers[0]}`;
  const run = layers.every((l, i) => i === 0 || l === layers[i - 1]! + 1);
  if (run) return `layers ${layers[0]}-${layers.at(-1)}`;
  return `layers ${layers.slice(0, -1).join(", ")} and ${layers.at(-1)}`;
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(bytes < 2 ** 20 ? 2 : 0)} MiB`;
}
