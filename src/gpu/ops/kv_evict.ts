/**
 * Host side of `kernels/kv_evict.wgsl`: a decode step's eviction in one layer
 * by the rule its spec describes (victim per KV head; with merging, the
 * nearest key, τ update and merge; slot release), with no read-back. A layer
 * whose spec does not evict while decoding only grows. The CPU twin of the
 * rule is the policy's `decide` (`src/kv/scoring_policy.ts`).
 *
 * @module
 */

import src from "../../../kernels/kv_evict.wgsl" with { type: "text" };
import { createStorage } from "../buffers.ts";
import type { Dispatch, GpuRuntime } from "../runtime.ts";
import { kvElemSource, kvKernelLabel, requireKvCache, requireKvHeadDim } from "./kv_elem.ts";
import {
  createPolicyParams,
  KV_PRELUDE,
  type KvLayerBuffers,
  type KvLayerSpec,
  layerKvTypes,
  slotsFor,
} from "./kv_support.ts";
import { bindBuffers, dispatchSteps, opLabel } from "./op_support.ts";

/** Workgroup size of both entry points. */
const WG = 64;
/** Loop iterations one invocation may spend (lavapipe stops at 65,535). */
const ITERATION_BUDGET = 40000;

/** Buffers and layer spec of a layer's decode eviction. */
export interface KvEvictOptions extends KvLayerBuffers {
  /** This layer's spec; the table's `nSlots` must be {@linkcode slotsFor} of it. */
  readonly layer: KvLayerSpec;
}

/** The eviction dispatch and its per-head decision buffer. */
export interface KvEvict extends Dispatch {
  /**
   * The last step's decision per KV head, 4 words each: victim slot (i32, −1
   * when nothing was evicted), merge target (i32, −1 when dropped), the
   * victim's best similarity (f32, NaN when not computed), 0.
   */
  readonly picks: GPUBuffer;
}

/**
 * Creates a layer's decode eviction: run it after the step's attention added
 * its scores.
 *
 * @param rt GPU runtime
 * @param options buffers and layer spec
 * @returns the recorded dispatches and the decision buffer
 * @throws {RangeError} when the table does not fit the budget, a buffer is
 *   too small, headDim is not a multiple of 4 or the cache is too large for one
 *   workgroup per head
 */
export function createKvEvict(rt: GpuRuntime, options: KvEvictOptions): KvEvict {
  const { layer: budget, kCache, vCache, table, headDim, step } = options;
  const { nHeadKv, nSlots } = table;
  const op = "kv_evict";
  const kvTypes = layerKvTypes(options);
  const label = opLabel(op, options.label);
  if (nSlots !== slotsFor(budget)) {
    throw new RangeError(
      `Cannot run ${op}: the slot table has ${nSlots} slots, the budget of ${budget.slots} tokens needs ${
        slotsFor(budget)
      }`,
    );
  }
  const cacheShape = `${nHeadKv}×${nSlots}×${headDim}`;
  requireKvHeadDim(op, headDim);
  requireKvCache(op, "k_cache", kCache, kvTypes.k, nHeadKv * nSlots * headDim, cacheShape);
  requireKvCache(op, "v_cache", vCache, kvTypes.v, nHeadKv * nSlots * headDim, cacheShape);
  const iterations = Math.ceil(nSlots / WG) * (headDim / 4);
  if (iterations > ITERATION_BUDGET) {
    throw new RangeError(
      `Cannot run ${op}: ${nSlots} slots of head size ${headDim} exceed one workgroup per head`,
    );
  }
  const code = kvElemSource(kvTypes) + KV_PRELUDE + src;
  const constants = { WG, HEAD_DIM: headDim, N_HEAD_KV: nHeadKv };
  const kernel = kvKernelLabel(op, kvTypes);
  const pick = rt.pipelines.get({ label: kernel, code, entryPoint: "pick", constants });
  const apply = rt.pipelines.get({ label: kernel, code, entryPoint: "apply", constants });
  const policy = createPolicyParams(rt.device, `${label}.policy`, budget, nHeadKv);
  const picks = createStorage(rt.device, nHeadKv * 16, `${label}.picks`);
  const buffers = [kCache, vCache, table.pos, table.score, table.state, picks, step, policy];
  const pickGroup = bindBuffers(rt.device, pick, `${label}.pick`, buffers, [0, 2, 3, 4, 5, 6, 7]);
  const applyGroup = bindBuffers(rt.device, apply, `${label}.apply`, buffers, [
    0,
    1,
    2,
    3,
    4,
    5,
    7,
  ]);
  return {
    picks,
    ...dispatchSteps([
      { pipeline: pick, bindGroup: pickGroup, grid: [nHeadKv] },
      { pipeline: apply, bindGroup: applyGroup, grid: [1] },
    ], [policy, picks]),
  };
}
