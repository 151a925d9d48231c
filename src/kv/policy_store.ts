/**
 * The GPU KV cache under a policy (full, streaming, h2o, d2o), one sequence
 * at a time:
 *
 * 1. {@linkcode PolicyKvStore.beginSequence}: the prompt's K/V go to a staging
 *    cache (slot = position) while each layer's prefill attention adds its
 *    per-query-head column sums (no T×T matrix is ever stored).
 * 2. {@linkcode PolicyKvStore.finishPrefill}: the head variances are read back
 *    (the one read-back of a request: `L × n_head` floats), the policy plans
 *    the per-layer budgets on the CPU, each layer's budget-sized slot cache is
 *    allocated, and the compress kernels fill it (d2o merges, τ set) before
 *    the staging cache is freed.
 * 3. Decode steps write into each head's free slot, accumulate attention into
 *    the slot scores, and run the policy's eviction — all inside the step's
 *    one submission, with no read-back.
 *
 * @module
 */

import { createStorage, readBuffer } from "../gpu/buffers.ts";
import { createColumnSums } from "../gpu/ops/kv_column_sums.ts";
import { createKvCompress, type KvCompress } from "../gpu/ops/kv_compress.ts";
import { createKvEvict, type KvEvict } from "../gpu/ops/kv_evict.ts";
import { createHeadVariance } from "../gpu/ops/kv_head_variance.ts";
import { createKvSlotTable, type KvSlotTable } from "../gpu/ops/kv_slot_table.ts";
import { slotsFor } from "../gpu/ops/kv_support.ts";
import { createKvWriteSlot } from "../gpu/ops/kv_write_slot.ts";
import type { GpuRuntime } from "../gpu/runtime.ts";
import type { DecodeLayerCache, PrefillLayerCache } from "../model/forward.ts";
import type { ModelHParams } from "../model/hparams.ts";
import { kvBytesPerToken, type KvStore, type LayerKvMemory } from "./kv_store.ts";
import type { KvOptions } from "./options.ts";
import type { KvPlan, KvPolicy } from "./policy.ts";
import { createKvPolicy } from "./registry.ts";

/** One layer's decode-time cache and policy ops. */
interface LayerSlots {
  readonly kCache: GPUBuffer;
  readonly vCache: GPUBuffer;
  readonly table: KvSlotTable;
  readonly evict: KvEvict;
}

/** What the prefill compression did to one layer: per (KV head, prompt position). */
export interface CompressionFate {
  /** `[nHeadKv][T']`: destination slot when kept, −1 when dropped, −2 − k when merged into slot k. */
  readonly fate: Int32Array;
  /** `[nHeadKv][T']`: an evicted row's best similarity to a kept row (NaN when not computed). */
  readonly similarity: Float32Array;
}

/** A KV cache that a policy compresses; one prompt per sequence. */
export class PolicyKvStore implements KvStore {
  /** Policy name. */
  readonly policy: KvOptions["policy"];
  /** Whether every layer is compressed, so positions may run past the capacity. */
  get unbounded(): boolean {
    return this.plan !== undefined && this.plan.layers.every((l) => l.compressed);
  }
  /** Compressing stores take the prompt at position 0 only. */
  readonly compresses = true;
  /** The validated options. */
  readonly options: KvOptions;
  /** The policy deciding budgets (CPU) and evictions (GPU). */
  readonly kvPolicy: KvPolicy;
  /** The current sequence's plan, once its prompt is in. */
  plan: KvPlan | undefined;
  /** The current sequence's prompt length `T'`. */
  promptLength = 0;
  /** Per layer, what the prefill compression did (kept only with `recordFates`). */
  fates: CompressionFate[] | undefined;

  readonly #rt: GpuRuntime;
  readonly #hp: ModelHParams;
  readonly #capacity: number;
  readonly #step: GPUBuffer;
  readonly #recordFates: boolean;
  readonly #maxBatch: number;
  #staging: { kCache: GPUBuffer; vCache: GPUBuffer; colsum: GPUBuffer }[] = [];
  #layers: LayerSlots[] = [];
  #prefillLayers: PrefillLayerCache[] = [];
  #decodeLayers: DecodeLayerCache[] | undefined;

  /**
   * @param rt GPU runtime
   * @param hp the model's hyper-parameters
   * @param options validated KV options
   * @param capacity most positions a sequence reaches (uncompressed layers hold this many)
   * @param forward the forward pass's step uniform and prompt-chunk size
   * @param recordFates keep each layer's compression outcome (for `compress-inspect`)
   */
  constructor(
    rt: GpuRuntime,
    hp: ModelHParams,
    options: KvOptions,
    capacity: number,
    forward: { readonly step: GPUBuffer; readonly maxBatch: number },
    recordFates = false,
  ) {
    this.#rt = rt;
    this.#hp = hp;
    this.options = options;
    this.policy = options.policy;
    this.kvPolicy = createKvPolicy(options);
    this.#capacity = capacity;
    this.#step = forward.step;
    this.#maxBatch = forward.maxBatch;
    this.#recordFates = recordFates;
  }

  /** Per layer: the cache prompt chunks write (the staging cache of the current prompt). */
  get prefillLayers(): readonly PrefillLayerCache[] {
    return this.#prefillLayers;
  }

  /** Per layer: the slot cache decode steps use; undefined until the prompt is in. */
  get decodeLayers(): readonly DecodeLayerCache[] | undefined {
    return this.#decodeLayers;
  }

  /** Per layer: the slot table (for tests and `compress-inspect`). */
  get tables(): readonly KvSlotTable[] {
    return this.#layers.map((l) => l.table);
  }

  /** Per layer: the last decode step's eviction picks buffer (4 words per KV head). */
  get picks(): readonly GPUBuffer[] {
    return this.#layers.map((l) => l.evict.picks);
  }

  /**
   * Starts a sequence: frees the previous one and allocates the staging cache
   * of a `promptLength`-token prompt, whose prefill adds column sums.
   *
   * @param promptLength `T'`
   * @returns per layer, the cache the prompt chunks write
   */
  beginSequence(promptLength: number): readonly PrefillLayerCache[] {
    this.#freeSequence();
    const { nLayer, nHead, nHeadKv, headDim } = this.#hp;
    const dev = this.#rt.device;
    this.promptLength = promptLength;
    const rowBytes = nHeadKv * promptLength * headDim * 4; // (n_kv_heads, T', head_dim)
    this.#staging = Array.from({ length: nLayer }, (_, l) => ({
      kCache: createStorage(dev, rowBytes, `staging.k.${l}`),
      vCache: createStorage(dev, rowBytes, `staging.v.${l}`),
      colsum: createStorage(dev, nHead * promptLength * 4, `colsum.${l}`), // (n_head, T'), zeroed
    }));
    const scored = this.policy === "h2o" || this.policy === "d2o";
    this.#prefillLayers = this.#staging.map((s, l) => ({
      kCache: s.kCache,
      vCache: s.vCache,
      nSlots: promptLength,
      ...(scored
        ? {
          afterAttention: (q: GPUBuffer, lse: GPUBuffer) => [
            createColumnSums(this.#rt, {
              q,
              kCache: s.kCache,
              lse,
              out: s.colsum,
              nHead,
              nHeadKv,
              headDim,
              nSlots: promptLength,
              maxTokens: this.#maxBatch,
              step: this.#step,
              label: `blk.${l}`,
            }),
          ],
        }
        : {}),
    }));
    return this.#prefillLayers;
  }

  /**
   * After the prompt ran: plans the budgets, allocates the slot caches and
   * compresses the prompt into them, then frees the staging cache.
   *
   * @returns per layer, the cache decode steps use
   */
  async finishPrefill(): Promise<readonly DecodeLayerCache[]> {
    const { nLayer, nHead, nHeadKv, headDim } = this.#hp;
    const rt = this.#rt;
    const dev = rt.device;
    const T = this.promptLength;

    // plan: d2o reads back every layer's per-head variance of the column sums
    let headVariance: Float32Array[] | undefined;
    if (this.policy === "d2o") {
      const out = createStorage(dev, nLayer * nHead * 4, "head_variance");
      const encoder = dev.createCommandEncoder({ label: "head_variance" });
      const pass = encoder.beginComputePass({ label: "head_variance" });
      this.#staging.forEach((s, l) => {
        createHeadVariance(rt, { colsum: s.colsum, nHead, tokens: T, out, offset: l * nHead })
          .encode(pass);
      });
      pass.end();
      dev.queue.submit([encoder.finish()]);
      const all = new Float32Array(await readBuffer(dev, out, nLayer * nHead * 4));
      out.destroy();
      headVariance = Array.from(
        { length: nLayer },
        (_, l) => all.slice(l * nHead, (l + 1) * nHead),
      );
    }
    const plan = this.plan = this.kvPolicy.plan(
      { nLayer, nHead, nHeadKv, headDim },
      { promptLength: T, capacity: this.#capacity, ...(headVariance ? { headVariance } : {}) },
    );

    // allocate the budget-sized slot caches and compress the prompt into them
    const compressions: KvCompress[] = [];
    const encoder = dev.createCommandEncoder({ label: "kv_compress" });
    const pass = encoder.beginComputePass({ label: "kv_compress" });
    this.#layers = plan.layers.map((budget, l) => {
      const nSlots = slotsFor(budget);
      const bytes = nHeadKv * nSlots * headDim * 4; // (n_kv_heads, n_slots, head_dim)
      const kCache = createStorage(dev, bytes, `k_cache.${l}`);
      const vCache = createStorage(dev, bytes, `v_cache.${l}`);
      const table = createKvSlotTable(rt, { nHeadKv, nSlots, label: `blk.${l}` });
      const s = this.#staging[l]!;
      const compress = createKvCompress(rt, {
        options: this.options,
        budget,
        tokens: T,
        staging: { kCache: s.kCache, vCache: s.vCache, nSlots: T },
        colsum: s.colsum,
        nHead,
        dest: { kCache, vCache, table },
        headDim,
        label: `blk.${l}`,
      });
      compress.encode(pass);
      compressions.push(compress);
      const evict = createKvEvict(rt, {
        options: this.options,
        budget,
        kCache,
        vCache,
        table,
        headDim,
        step: this.#step,
        label: `blk.${l}`,
      });
      return { kCache, vCache, table, evict };
    });
    pass.end();
    dev.queue.submit([encoder.finish()]);
    if (this.#recordFates) {
      this.fates = [];
      for (const c of compressions) {
        this.fates.push({ fate: await c.readFate(), similarity: await c.readSimilarity() });
      }
    } else {
      await dev.queue.onSubmittedWorkDone();
    }
    for (const c of compressions) c.destroy();
    this.#freeStaging();

    this.#decodeLayers = this.#layers.map((layer, l) => ({
      kCache: layer.kCache,
      vCache: layer.vCache,
      nSlots: layer.table.nSlots,
      write: (k: GPUBuffer, v: GPUBuffer) =>
        createKvWriteSlot(rt, {
          k,
          v,
          kCache: layer.kCache,
          vCache: layer.vCache,
          table: layer.table,
          headDim,
          step: this.#step,
          label: `blk.${l}`,
        }),
      scores: layer.table.score,
      evict: layer.evict,
    }));
    return this.#decodeLayers;
  }

  /**
   * Per layer: allocated and live bytes. Before the prompt is in, the staging
   * cache is what is allocated.
   *
   * @param tokens tokens of the sequence so far
   */
  memory(tokens: number): LayerKvMemory[] {
    const perToken = kvBytesPerToken(this.#hp);
    if (!this.plan || this.#layers.length === 0) {
      const staged = this.#staging.length > 0 ? this.promptLength * perToken : 0;
      return Array.from({ length: this.#hp.nLayer }, () => ({
        allocatedBytes: staged,
        liveBytes: Math.min(tokens, this.promptLength) * perToken,
      }));
    }
    return this.plan.layers.map((budget) => ({
      allocatedBytes: slotsFor(budget) * perToken,
      liveBytes: Math.min(tokens, budget.slots) * perToken,
    }));
  }

  /** Frees every buffer. */
  destroy(): void {
    this.#freeSequence();
  }

  #freeStaging(): void {
    for (const s of this.#staging) {
      s.kCache.destroy();
      s.vCache.destroy();
      s.colsum.destroy();
    }
    this.#staging = [];
  }

  #freeSequence(): void {
    this.#freeStaging();
    for (const l of this.#layers) {
      l.kCache.destroy();
      l.vCache.destroy();
      l.table.destroy();
    }
    this.#layers = [];
    this.#decodeLayers = undefined;
    this.plan = undefined;
    this.fates = undefined;
  }
}
