/**
 * KV-cache storage on the GPU, as the session and the forward pass see it:
 * the caches prompt chunks and decode steps bind, and the bytes they hold.
 * `FullKvStore` is the uncompressed cache (slot = position); the policy store
 * (`policy_store.ts`) compresses it.
 *
 * @module
 */

import { createStorage } from "../gpu/buffers.ts";
import type { GpuRuntime } from "../gpu/runtime.ts";
import type { ModelHParams } from "../model/hparams.ts";
import type { DecodeLayerCache, PrefillLayerCache } from "../model/forward.ts";

/** KV-cache bytes of one layer. */
export interface LayerKvMemory {
  /** Bytes allocated for the layer's K and V slots. */
  readonly allocatedBytes: number;
  /** Bytes of the slots holding a token now. */
  readonly liveBytes: number;
}

/** The GPU KV cache of one session. */
export interface KvStore {
  /** Policy name, as `--kv` spells it. */
  readonly policy: string;
  /** Whether a prompt must start a new sequence at position 0 (compressing stores). */
  readonly compresses: boolean;
  /** Whether positions may run past the capacity (every layer compressed). */
  readonly unbounded: boolean;
  /** Per layer: the cache decode steps bind (undefined until a compressing store has planned). */
  readonly decodeLayers: readonly DecodeLayerCache[] | undefined;
  /** Per layer: the cache prompt chunks bind. */
  readonly prefillLayers: readonly PrefillLayerCache[];
  /**
   * Per layer: allocated and live bytes, given how many tokens the sequence has seen.
   *
   * @param tokens tokens of the sequence so far
   */
  memory(tokens: number): LayerKvMemory[];
  /** Frees every buffer. */
  destroy(): void;
}

/** Bytes of one token's K and V in one layer (f32). */
export function kvBytesPerToken(hp: ModelHParams): number {
  return 2 * hp.nHeadKv * hp.headDim * 4;
}

/** The uncompressed cache: every layer holds every position, slot = position. */
export class FullKvStore implements KvStore {
  /** Always `"full"`. */
  readonly policy = "full";
  /** The full cache never compresses. */
  readonly compresses = false;
  /** The full cache holds at most its capacity. */
  readonly unbounded = false;
  /** Per layer, the cache (the same for prompt chunks and decode steps). */
  readonly decodeLayers: readonly DecodeLayerCache[];
  /** Per layer, the cache (the same for prompt chunks and decode steps). */
  readonly prefillLayers: readonly PrefillLayerCache[];
  readonly #hp: ModelHParams;
  readonly #nCtx: number;

  /**
   * Allocates K and V of `nCtx` slots for every layer.
   *
   * @param rt GPU runtime
   * @param hp the model's hyper-parameters
   * @param nCtx slots per layer: the longest sequence
   */
  constructor(rt: GpuRuntime, hp: ModelHParams, nCtx: number) {
    this.#hp = hp;
    this.#nCtx = nCtx;
    const bytes = hp.nHeadKv * nCtx * hp.headDim * 4; // (n_kv_heads, n_ctx, head_dim) f32
    const layers = Array.from({ length: hp.nLayer }, (_, l) => ({
      kCache: createStorage(rt.device, bytes, `k_cache.${l}`),
      vCache: createStorage(rt.device, bytes, `v_cache.${l}`),
      nSlots: nCtx,
    }));
    this.decodeLayers = layers;
    this.prefillLayers = layers;
  }

  /** Per layer: `n_ctx` slots allocated, one live per token seen. */
  memory(tokens: number): LayerKvMemory[] {
    const perToken = kvBytesPerToken(this.#hp);
    const layer = {
      allocatedBytes: this.#nCtx * perToken,
      liveBytes: Math.min(tokens, this.#nCtx) * perToken,
    };
    return Array.from({ length: this.#hp.nLayer }, () => layer);
  }

  /** Frees every layer's K and V. */
  destroy(): void {
    for (const l of this.decodeLayers) {
      l.kCache.destroy();
      l.vCache.destroy();
    }
  }
}
