/**
 * What `d2o compress-inspect` reports: the data the GPU run collects and
 * every renderer (terminal text, `--json`, `--html`) reads. `--json` prints
 * exactly an {@linkcode InspectReport}; its schema is in docs/json-output.md.
 *
 * @module
 */

import type { KvTypes } from "../gpu/ops/kv_elem.ts";
import type { KvOptions } from "../kv/options.ts";

/** What became of one token in one layer and KV head. */
export type TokenFate = "kept" | "merged" | "evicted";

/** One layer's budget and the statistic behind it. */
export interface InspectLayerPlan {
  /** Layer index. */
  readonly layer: number;
  /** d2o: the layer statistic `F^ℓ` in [0, 1] (mean of min-max-normalised head variances); else null. */
  readonly statistic: number | null;
  /** d2o: the layer share `α_ℓ = L·softmax(−F)_ℓ`; else null. */
  readonly share: number | null;
  /** `C_ℓ`: tokens kept after each step. */
  readonly slots: number;
  /** `N_ℓ`: heavy hitters, sinks included. */
  readonly heavy: number;
  /** `M_ℓ`: the recent window. */
  readonly recent: number;
  /** Sink positions always kept. */
  readonly sinks: number;
  /** Whether the layer is compressed at all. */
  readonly compressed: boolean;
}

/** One merge: an evicted token folded into a kept one. */
export interface InspectMerge {
  /** Position of the evicted token. */
  readonly pos: number;
  /** Position of the kept token it merged into. */
  readonly into: number;
  /** Cosine similarity of their rotated keys. */
  readonly similarity: number;
  /** Step at which it happened: 0 = the prefill compression, k = the k-th generated token. */
  readonly step: number;
}

/** One eviction without merge. */
export interface InspectEviction {
  /** Position of the evicted token. */
  readonly pos: number;
  /** Step at which it happened (0 = prefill compression). */
  readonly step: number;
  /** d2o: its best similarity (below the threshold), else null. */
  readonly similarity: number | null;
}

/** One KV head of one layer at the end of the run. */
export interface InspectHead {
  /** KV head index. */
  readonly head: number;
  /** Positions held at the end, ascending. */
  readonly kept: readonly number[];
  /** Tokens merged into a kept one, in the order they happened. */
  readonly merged: readonly InspectMerge[];
  /** Tokens dropped without merging, in the order they happened. */
  readonly evicted: readonly InspectEviction[];
}

/** One layer: counts, the threshold's trajectory and its heads. */
export interface InspectLayer {
  /** Layer index. */
  readonly layer: number;
  /** Tokens held at the end per head (the same for every head). */
  readonly keptCount: number;
  /** Merged tokens, summed over heads. */
  readonly mergedCount: number;
  /** Dropped tokens, summed over heads. */
  readonly evictedCount: number;
  /** d2o: τ after each compression event (index 0 = prefill compression, k = k-th decode eviction); else empty. */
  readonly tau: readonly number[];
  /** The layer's KV heads. */
  readonly heads: readonly InspectHead[];
}

/** Everything `compress-inspect` shows. */
export interface InspectReport {
  /** Schema version of this object. */
  readonly version: 1;
  /** Model file and name. */
  readonly model: {
    readonly file: string;
    readonly name: string;
    readonly nLayer: number;
    readonly nHeadKv: number;
  };
  /** The policy and its options. */
  readonly kv: KvOptions;
  /** Token ids and display pieces of the whole sequence: prompt then generated tokens. */
  readonly tokens: { readonly ids: readonly number[]; readonly pieces: readonly string[] };
  /** Prompt length `T'` (the first `promptLength` tokens are the prompt). */
  readonly promptLength: number;
  /** The generated text (empty without `--generate`). */
  readonly generatedText: string;
  /** Per-layer budgets. */
  readonly plan: readonly InspectLayerPlan[];
  /** Per-layer outcome. */
  readonly layers: readonly InspectLayer[];
  /** KV bytes at the end: allocated and live, against the full cache for the same tokens, in the cache's element types. */
  readonly memory: {
    readonly kvBytes: number;
    readonly kvLiveBytes: number;
    readonly fullKvBytes: number;
    /** Element types of the cached keys and values (`-ctk`, `-ctv`). */
    readonly kvTypes: KvTypes;
  };
}
