/**
 * The GPU KV cache under a policy, behind the KV-cache interface
 * (`cache.ts`), one sequence at a time. What it does comes from the policy's
 * spec and plan, never from its name:
 *
 * 1. {@linkcode PolicyKvStore.prefill}: the prompt's K/V go to a staging
 *    cache (slot = position); when the spec's score source reads them
 *    (`score_source.ts`), each layer's prefill attention adds its
 *    per-query-head column sums (from every query, or from the observation
 *    window only; no T×T matrix is ever stored).
 * 2. {@linkcode PolicyKvStore.settle}: when the spec asks for them, the
 *    head variances are read back (the one read-back of a request:
 *    `L × n_head` floats); the policy plans the budgets on the CPU. Then
 *    each layer's slot cache is allocated and the compress kernels fill it
 *    (the source's scores, the pool, merges and τ as the spec says) before
 *    the staging cache is freed — at once, or with `--compress-at first-decode` after
 *    one more step over the staging cache (the store says when:
 *    {@linkcode PolicyKvStore.settled}).
 * 4. Decode steps write into each head's free slot (with the source's first
 *    score), accumulate attention into the slot scores when the source adds
 *    it, and run the layer's eviction (or only grow) — all
 *    inside the step's one submission, with no read-back.
 *
 * @module
 */

import { LimitError } from "../errors.ts";
import { createStorage, readBuffer } from "../gpu/buffers.ts";
import { createColumnSums } from "../gpu/ops/kv_column_sums.ts";
import { kvCacheBytes, type KvTypes } from "../gpu/ops/kv_elem.ts";
import { createKvCompress, type KvCompress } from "../gpu/ops/kv_compress.ts";
import { createKvEvict, type KvEvict } from "../gpu/ops/kv_evict.ts";
import { createHeadVariance } from "../gpu/ops/kv_head_variance.ts";
import { createKvSlotTable, type KvSlotTable } from "../gpu/ops/kv_slot_table.ts";
import { createKvWriteSlot } from "../gpu/ops/kv_write_slot.ts";
import type { Dispatch, GpuRuntime } from "../gpu/runtime.ts";
import {
  type CompressionFate,
  kvBytesPerToken,
  type KvLayerBinding,
  type KvStepBuffers,
  type KvStore,
  type LayerKvMemory,
} from "./cache.ts";
import { gpuLayerSpec, layerSlots } from "./layer_spec.ts";
import type { KvOptions } from "./option_types.ts";
import type { KvPlan, KvPolicy, KvShape } from "./policy.ts";
import { createKvPolicy } from "./registry.ts";
import { columnSumsFrom, scoreKernel, scoreSource } from "./score_source.ts";

export type { CompressionFate } from "./cache.ts";

/** The step buffers a policy cache's ops read: a prompt chunk's, and the sequence's decode steps'. */
export interface KvStoreIo {
  /** The prompt chunks' queries, log-sum-exp and step (the column sums read them). */
  readonly prompt: KvStepBuffers;
  /** The decode steps' keys, values and step (the slot write and eviction read them). */
  readonly decode: KvStepBuffers;
}

/** One layer's decode-time cache and policy ops. */
interface LayerSlots {
  readonly kCache: GPUBuffer;
  readonly vCache: GPUBuffer;
  readonly table: KvSlotTable;
  readonly evict: KvEvict;
  /** Prompt positions the compression dropped or merged. */
  readonly offset: number;
}

/** One layer's staging cache of the current prompt. */
interface Staging {
  readonly kCache: GPUBuffer;
  readonly vCache: GPUBuffer;
  readonly colsum: GPUBuffer;
}

/** A KV cache that a policy compresses; one prompt per sequence. */
export class PolicyKvStore implements KvStore {
  /** Policy name. */
  readonly policy: string;
  /** Compressing stores take the prompt at position 0 only. */
  readonly compresses = true;
  /** Element types of the keys and the values, in the staging and the slot caches alike. */
  readonly kvTypes: KvTypes;
  /** The validated options. */
  readonly options: KvOptions;
  /** The policy deciding budgets (CPU) and declaring the GPU's work (its spec). */
  readonly kvPolicy: KvPolicy;
  /** The current sequence's plan, once its prompt is in. */
  plan: KvPlan | undefined;
  /** The current sequence's `T'`: the rows compressed (the prompt, plus the first decode token with `--compress-at first-decode`). */
  promptLength = 0;
  /** Whether the prompt waits for the first decode step to be compressed (`--compress-at first-decode`). */
  deferred = false;
  /** Whether the deferred step's bindings were handed out (the next {@linkcode settle} compresses). */
  #awaitingStep = false;
  /** Per layer, what the prefill compression did (kept only with `recordFates`). */
  fates: CompressionFate[] | undefined;

  readonly #rt: GpuRuntime;
  readonly #shape: KvShape;
  readonly #capacity: number;
  readonly #io: KvStoreIo;
  readonly #recordFates: boolean;
  #staging: Staging[] = [];
  /** Prompt tokens of the current sequence (`T`). */
  #prefillTokens = 0;
  #layers: LayerSlots[] = [];
  #step: KvLayerBinding[] | undefined;
  /** The current prompt's staging bindings. */
  #prompt: KvLayerBinding[] = [];
  /** The ops this sequence's bindings hold (freed with the sequence). */
  #ops: Dispatch[] = [];

  /**
   * @param rt GPU runtime
   * @param shape the model's KV shape
   * @param options validated KV options
   * @param capacity most positions a sequence reaches (uncompressed layers hold this many)
   * @param io the step buffers the cache's ops read: a prompt's, and the sequence's decode steps'
   * @param kvTypes element types of the keys and the values (scores and merges are f32 in every type)
   * @param recordFates keep each layer's compression outcome (for `compress-inspect`)
   */
  constructor(
    rt: GpuRuntime,
    shape: KvShape,
    options: KvOptions,
    capacity: number,
    io: KvStoreIo,
    kvTypes: KvTypes,
    recordFates = false,
  ) {
    this.#rt = rt;
    this.kvTypes = kvTypes;
    this.#shape = shape;
    this.options = options;
    this.policy = options.policy;
    this.kvPolicy = createKvPolicy(options);
    this.#capacity = capacity;
    this.#io = io;
    this.#recordFates = recordFates;
  }

  /** Whether every layer evicts per token, so positions may run past the capacity. */
  get unbounded(): boolean {
    return this.kvPolicy.spec.decode === "evict" && this.plan !== undefined &&
      this.plan.layers.every((l) => l.compressed);
  }

  /** Per layer: the slot cache decode steps use; undefined until the prompt is in. */
  get step(): readonly KvLayerBinding[] | undefined {
    return this.#step;
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
   * of a `promptLength`-token prompt, whose prefill adds the spec's scores.
   *
   * @param promptLength `T'`
   * @param position must be 0: a compressing cache takes one prompt per sequence
   * @returns per layer, the cache the prompt chunks write
   * @throws {LimitError} after position 0 or past the capacity
   */
  prefill(promptLength: number, position = 0): readonly KvLayerBinding[] {
    if (position !== 0) {
      throw new LimitError(
        `Cannot add a prompt at position ${position}: a ${this.policy} KV cache takes one prompt per sequence`,
      );
    }
    if (promptLength > this.#capacity) {
      throw new LimitError(
        `Cannot fit a prompt of ${promptLength} tokens in a context of ${this.#capacity}`,
      );
    }
    this.release();
    const { nLayer, nHead, nHeadKv, headDim } = this.#shape;
    const dev = this.#rt.device;
    const spec = this.kvPolicy.spec;
    // first-decode: the staging cache also takes the first decode token (row T), when it fits.
    this.deferred = this.options.compressAt === "first-decode" && promptLength < this.#capacity;
    this.#prefillTokens = promptLength;
    this.promptLength = promptLength + (this.deferred ? 1 : 0);
    const rows = this.promptLength;
    const kvTypes = this.kvTypes;
    // (n_kv_heads, T', head_dim) each, in its element type
    const kBytes = kvCacheBytes(kvTypes.k, nHeadKv, rows, headDim);
    const vBytes = kvCacheBytes(kvTypes.v, nHeadKv, rows, headDim);
    this.#staging = Array.from({ length: nLayer }, (_, l) => ({
      kCache: createStorage(dev, kBytes, `staging.k.${l}`),
      vCache: createStorage(dev, vBytes, `staging.v.${l}`),
      colsum: createStorage(dev, nHead * rows * 4, `colsum.${l}`), // (n_head, T'), zeroed
    }));
    // The column sums the score source reads: from every query, the window, or none.
    const fromQuery = columnSumsFrom(spec, promptLength);
    return this.#prompt = this.#staging.map((s, l) => ({
      kCache: s.kCache,
      vCache: s.vCache,
      kvTypes,
      nSlots: rows,
      staging: fromQuery !== null,
      afterAttention: fromQuery === null ? [] : this.#own([
        createColumnSums(this.#rt, {
          q: this.#io.prompt.q,
          kCache: s.kCache,
          kvTypes,
          lse: this.#io.prompt.lse,
          out: s.colsum,
          nHead,
          nHeadKv,
          headDim,
          nSlots: rows,
          maxTokens: this.#io.prompt.maxBatch,
          step: this.#io.prompt.step,
          fromQuery,
          label: `blk.${l}`,
        }),
      ]),
    }));
  }

  /** Whether the bindings of the last {@linkcode settle} hold for the rest of the sequence. */
  get settled(): boolean {
    return !this.deferred;
  }

  /**
   * After the prompt: plans the budgets, then compresses — at once, or when
   * {@linkcode deferred}, after one more step over the staging bindings it
   * returns first (the first decode token joins the scores as row `T`).
   *
   * @returns per layer, the cache the next steps bind
   */
  async settle(): Promise<readonly KvLayerBinding[]> {
    if (!this.plan) await this.planBudgets();
    if (this.deferred && !this.#awaitingStep) {
      this.#awaitingStep = true;
      return this.#prompt;
    }
    return await this.compress();
  }

  /**
   * Plans the budgets; reads back every layer's per-head variance of the
   * column sums first when the spec asks for it.
   *
   * @returns the plan
   */
  async planBudgets(): Promise<KvPlan> {
    const { nLayer, nHead, nHeadKv, headDim } = this.#shape;
    const headVariance = this.kvPolicy.spec.headVariance ? await this.#headVariance() : undefined;
    return this.plan = this.kvPolicy.plan(
      { nLayer, nHead, nHeadKv, headDim },
      {
        promptLength: this.promptLength,
        capacity: this.#capacity,
        ...(headVariance ? { headVariance } : {}),
      },
    );
  }

  /**
   * Allocates the slot caches of the plan and compresses the prompt into
   * them, then frees the staging cache ({@linkcode settle} calls it when due).
   *
   * @returns per layer, the cache decode steps use
   */
  async compress(): Promise<readonly KvLayerBinding[]> {
    const plan = this.plan ?? await this.planBudgets();
    const { nHead, nHeadKv, headDim } = this.#shape;
    const rt = this.#rt;
    const dev = rt.device;
    const T = this.promptLength;
    const spec = this.kvPolicy.spec;
    const kvTypes = this.kvTypes;
    const compressions: KvCompress[] = [];
    const encoder = dev.createCommandEncoder({ label: "kv_compress" });
    const pass = encoder.beginComputePass({ label: "kv_compress" });
    this.#layers = plan.layers.map((budget, l) => {
      const nSlots = layerSlots(spec, budget, T, this.#capacity);
      const layer = gpuLayerSpec(spec, budget, nSlots);
      // (n_kv_heads, n_slots, head_dim) each, in its element type
      const kCache = createStorage(
        dev,
        kvCacheBytes(kvTypes.k, nHeadKv, nSlots, headDim),
        `k_cache.${l}`,
      );
      const vCache = createStorage(
        dev,
        kvCacheBytes(kvTypes.v, nHeadKv, nSlots, headDim),
        `v_cache.${l}`,
      );
      const table = createKvSlotTable(rt, { nHeadKv, nSlots, label: `blk.${l}` });
      const s = this.#staging[l]!;
      const compress = createKvCompress(rt, {
        layer,
        tokens: T,
        staging: { kCache: s.kCache, vCache: s.vCache, nSlots: T },
        colsum: s.colsum,
        nHead,
        dest: { kCache, vCache, table },
        kvTypes,
        headDim,
        label: `blk.${l}`,
      });
      compress.encode(pass);
      compressions.push(compress);
      const caches = {
        kCache,
        vCache,
        kvTypes,
        table,
        headDim,
        step: this.#io.decode.step,
        label: `blk.${l}`,
      };
      const evict = createKvEvict(rt, { ...caches, layer });
      return { kCache, vCache, table, evict, offset: T - compress.kept };
    });
    pass.end();
    dev.queue.submit([encoder.finish()]);
    const score = scoreKernel(spec.score);
    const decodeAdds = scoreSource(spec.score).decodeAdds;
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
    this.deferred = false;
    this.#awaitingStep = false;
    return this.#step = this.#layers.map((layer, l) => ({
      kCache: layer.kCache,
      vCache: layer.vCache,
      kvTypes,
      nSlots: layer.table.nSlots,
      write: this.#own([createKvWriteSlot(rt, {
        k: this.#io.decode.k,
        v: this.#io.decode.v,
        kCache: layer.kCache,
        vCache: layer.vCache,
        kvTypes,
        table: layer.table,
        headDim,
        step: this.#io.decode.step,
        score,
        label: `blk.${l}`,
      })])[0]!,
      // Decode attention adds into the slot scores when the score source says so.
      ...(decodeAdds ? { scores: layer.table.score } : {}),
      kvOffset: layer.offset,
      afterAttention: this.#own([layer.evict]),
    }));
  }

  /**
   * Per layer: allocated and live bytes. Before the prompt is in, the staging
   * cache is what is allocated.
   *
   * @param tokens tokens of the sequence so far
   */
  memory(tokens: number): LayerKvMemory[] {
    const perToken = kvBytesPerToken(this.#shape, this.kvTypes);
    if (!this.plan || this.#layers.length === 0) {
      const staged = this.#staging.length > 0 ? this.promptLength * perToken : 0;
      return Array.from({ length: this.#shape.nLayer }, () => ({
        allocatedBytes: staged,
        liveBytes: Math.min(tokens, this.promptLength) * perToken,
      }));
    }
    const evicts = this.kvPolicy.spec.decode === "evict";
    return this.plan.layers.map((budget, l) => {
      const { table, offset } = this.#layers[l]!;
      const held = evicts ? budget.slots : table.nSlots;
      return {
        allocatedBytes: table.nSlots * perToken,
        liveBytes: Math.max(0, Math.min(tokens - offset, held)) * perToken,
      };
    });
  }

  /** Frees the current sequence's buffers. */
  release(): void {
    this.#freeStaging();
    for (const l of this.#layers) {
      l.kCache.destroy();
      l.vCache.destroy();
      l.table.destroy();
    }
    for (const op of this.#ops) op.destroy();
    this.#ops = [];
    this.#layers = [];
    this.#step = undefined;
    this.plan = undefined;
    this.fates = undefined;
    this.deferred = false;
    this.#awaitingStep = false;
  }

  /** Frees every buffer. */
  destroy(): void {
    this.release();
  }

  /** Keeps `ops` to free with the sequence. */
  #own(ops: Dispatch[]): Dispatch[] {
    this.#ops.push(...ops);
    return ops;
  }

  async #headVariance(): Promise<Float32Array[]> {
    const { nLayer, nHead } = this.#shape;
    const rt = this.#rt;
    const dev = rt.device;
    // The statistic is the prompt's (docs/method.md §3.1): its T rows, before any decode row.
    const T = this.#prefillTokens;
    const stride = this.promptLength;
    const out = createStorage(dev, nLayer * nHead * 4, "head_variance");
    const encoder = dev.createCommandEncoder({ label: "head_variance" });
    const pass = encoder.beginComputePass({ label: "head_variance" });
    const ops = this.#staging.map((s, l) =>
      createHeadVariance(rt, { colsum: s.colsum, nHead, tokens: T, stride, out, offset: l * nHead })
    );
    for (const op of ops) op.encode(pass);
    pass.end();
    dev.queue.submit([encoder.finish()]);
    const all = new Float32Array(await readBuffer(dev, out, nLayer * nHead * 4));
    for (const op of ops) op.destroy();
    out.destroy();
    return Array.from({ length: nLayer }, (_, l) => all.slice(l * nHead, (l + 1) * nHead));
  }

  #freeStaging(): void {
    for (const s of this.#staging) {
      s.kCache.destroy();
      s.vCache.destroy();
      s.colsum.destroy();
    }
    this.#staging = [];
    this.#prompt = [];
  }
}
