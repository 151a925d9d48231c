/**
 * The plain full cache behind the KV-cache interface (`cache.ts`): every
 * layer holds every position, slot = position, one allocation for the
 * session. Its prefill and decode bindings are the same objects every time,
 * so the forward graphs over it are built once. It takes prompts after
 * decoding (a chat's next turn) and never compresses.
 *
 * @module
 */

import { createStorage } from "../gpu/buffers.ts";
import { kvCacheBytes, type KvTypes } from "../gpu/ops/kv_elem.ts";
import type { GpuRuntime } from "../gpu/runtime.ts";
import { fullLayer } from "./budget.ts";
import { kvBytesPerToken, type KvLayerBinding, type KvStore, type LayerKvMemory } from "./cache.ts";
import type { KvPlan, KvShape } from "./policy.ts";

export { kvBytesPerToken } from "./cache.ts";
export type { KvStore, LayerKvMemory } from "./cache.ts";

/** The uncompressed cache: every layer holds every position, slot = position. */
export class FullKvStore implements KvStore {
  /** Always `"full"`. */
  readonly policy = "full";
  /** Element types of the keys and the values. */
  readonly kvTypes: KvTypes;
  /** The plain cache has no policy options. */
  readonly options = undefined;
  /** The full cache never compresses. */
  readonly compresses = false;
  /** The same caches for the whole sequence. */
  readonly settled = true;
  /** The full cache holds at most its capacity. */
  readonly unbounded = false;
  /** Every layer at the capacity. */
  readonly plan: KvPlan;
  /** No slot tables. */
  readonly tables = [];
  /** No eviction picks. */
  readonly picks = [];
  /** No compression. */
  readonly fates = undefined;
  /** Per layer, the cache (the same for prompt chunks and decode steps). */
  readonly step: readonly KvLayerBinding[];
  readonly #shape: KvShape;
  readonly #nCtx: number;

  /**
   * Allocates K and V of `nCtx` slots for every layer.
   *
   * @param rt GPU runtime
   * @param shape the model's KV shape
   * @param nCtx slots per layer: the longest sequence
   * @param kvTypes element types of the keys and the values
   */
  constructor(rt: GpuRuntime, shape: KvShape, nCtx: number, kvTypes: KvTypes) {
    this.#shape = shape;
    this.#nCtx = nCtx;
    this.kvTypes = kvTypes;
    const { nHeadKv, headDim } = shape;
    // (n_kv_heads, n_ctx, head_dim) each, in its element type
    const kBytes = kvCacheBytes(kvTypes.k, nHeadKv, nCtx, headDim);
    const vBytes = kvCacheBytes(kvTypes.v, nHeadKv, nCtx, headDim);
    this.step = Array.from({ length: shape.nLayer }, (_, l) => ({
      kCache: createStorage(rt.device, kBytes, `k_cache.${l}`),
      vCache: createStorage(rt.device, vBytes, `v_cache.${l}`),
      kvTypes,
      nSlots: nCtx,
      afterAttention: [],
    }));
    this.plan = {
      layers: Array.from({ length: shape.nLayer }, () => fullLayer(nCtx)),
      statistic: null,
      share: null,
      nominalSlots: 0,
    };
  }

  /** The same caches at every prompt (slot = position). */
  prefill(): readonly KvLayerBinding[] {
    return this.step;
  }

  /** Nothing to plan or compress: the same caches. */
  settle(): Promise<readonly KvLayerBinding[]> {
    return Promise.resolve(this.step);
  }

  /** Per layer: `n_ctx` slots allocated, one live per token seen. */
  memory(tokens: number): LayerKvMemory[] {
    const perToken = kvBytesPerToken(this.#shape, this.kvTypes);
    const layer = {
      allocatedBytes: this.#nCtx * perToken,
      liveBytes: Math.min(tokens, this.#nCtx) * perToken,
    };
    return Array.from({ length: this.#shape.nLayer }, () => layer);
  }

  /** The one allocation stays for the next sequence. */
  release(): void {}

  /** Frees every layer's K and V. */
  destroy(): void {
    for (const l of this.step) {
      l.kCache.destroy();
      l.vCache.destroy();
    }
  }
}
