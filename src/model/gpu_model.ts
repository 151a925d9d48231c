/**
 * The one loader: a model's weights on the GPU, the forward pass sized for
 * its prompt chunks and its parallel sequences, and the sequences themselves,
 * each with the KV cache the options ask for. A lone `Session` and the batch
 * engine both load through here, so the store choice, the KV-head repeat of
 * `--select-per query-head`, the chunk size and the context are decided once.
 *
 * @module
 */

import { LimitError } from "../errors.ts";
import { acquireGpu } from "../gpu/device.ts";
import { DEFAULT_KV_TYPES, type KvTypes } from "../gpu/ops/kv_elem.ts";
import { createRuntime, type GpuRuntime } from "../gpu/runtime.ts";
import type { KvStore } from "../kv/cache.ts";
import { FullKvStore } from "../kv/kv_store.ts";
import type { KvOptions } from "../kv/options.ts";
import { PolicyKvStore } from "../kv/policy_store.ts";
import { GpuForward } from "./forward.ts";
import { type GpuModelWeights, uploadModelWeights } from "./gpu_weights.ts";
import type { ModelHParams } from "./hparams.ts";
import type { ModelFile } from "./model_file.ts";
import { kvRepeat, repeatKvHParams } from "./repeat_kv.ts";
import { Sequence } from "./sequence.ts";

/** Options of {@linkcode GpuModel.load}. */
export interface GpuModelOptions {
  /** Context size: KV cache slots per sequence (default: {@linkcode defaultContext}). */
  readonly nCtx?: number;
  /** Most prompt tokens per prefill chunk (default 128). */
  readonly maxBatch?: number;
  /** Sequences decoded together (default 1: a lone session). */
  readonly parallel?: number;
  /** Keep every prompt row's logits available (evaluation). */
  readonly allLogits?: boolean;
  /** Fuse a one-row step's norms and SiLU·mul into its mat-vecs (default: on the CPU fallback adapter only). */
  readonly fuseDecode?: boolean;
  /** Most rows a step's projections run through the batched mat-vec (tests, benchmarks; default: the forward pass's). */
  readonly batchedRows?: number;
  /**
   * KV-cache policy and budget. Without it a sequence keeps the plain full
   * cache (slot = position), which also takes prompts after decoding; with it
   * (even `full`) the cache runs through the policy's slot machinery, one
   * prompt per sequence.
   */
  readonly kv?: KvOptions | undefined;
  /**
   * Element types of every cache's keys and values (default f32 both; the
   * command line's default follows the adapter: `src/cli/kv_flags.ts`).
   */
  readonly kvTypes?: KvTypes;
  /** With `kv`: keep what each prompt's compression did to each layer (`compress-inspect`, tests). */
  readonly recordFates?: boolean;
  /** A runtime to share (tests); by default the model acquires its own device. */
  readonly runtime?: GpuRuntime;
  /** Called as weights upload: (tensors done, total). */
  readonly onProgress?: (done: number, total: number) => void;
}

/** A model on the GPU with its forward pass: what sequences run on. */
export class GpuModel {
  /** The GPU runtime (shared or the model's own). */
  readonly runtime: GpuRuntime;
  /** The model file (kept open for its metadata; closed with the model). */
  readonly file: ModelFile;
  /** The hyper-parameters the forward pass and caches run with (KV heads repeated for `--select-per query-head`). */
  readonly hparams: ModelHParams;
  /** The weights on the GPU. */
  readonly weights: GpuModelWeights;
  /** The forward pass. */
  readonly forward: GpuForward;
  /** KV cache slots per sequence. */
  readonly nCtx: number;
  /** Element types of every sequence's cached keys and values. */
  readonly kvTypes: KvTypes;
  readonly #options: GpuModelOptions;

  private constructor(
    file: ModelFile,
    runtime: GpuRuntime,
    weights: GpuModelWeights,
    hparams: ModelHParams,
    options: GpuModelOptions & { nCtx: number },
  ) {
    this.file = file;
    this.runtime = runtime;
    this.weights = weights;
    this.hparams = hparams;
    this.nCtx = options.nCtx;
    this.kvTypes = options.kvTypes ?? DEFAULT_KV_TYPES;
    this.#options = options;
    this.forward = new GpuForward(runtime, hparams, weights, {
      nCtx: options.nCtx,
      maxBatch: options.maxBatch ?? 128,
      maxSeqs: options.parallel ?? 1,
      allLogits: options.allLogits ?? false,
      ...(options.fuseDecode === undefined ? {} : { fuseDecode: options.fuseDecode }),
      ...(options.batchedRows === undefined ? {} : { batchedRows: options.batchedRows }),
    });
  }

  /**
   * Uploads an opened model and builds the forward pass; the GPU model takes
   * ownership of `file` (closed by {@linkcode destroy}).
   *
   * @param file an opened, validated model
   * @param options context, chunk, parallel sequences, KV policy and device
   * @throws {GpuError} when there is no WebGPU adapter
   * @throws {LimitError} for a context size below 1
   */
  static async load(file: ModelFile, options: GpuModelOptions = {}): Promise<GpuModel> {
    const hp = file.hparams;
    const nCtx = options.nCtx ?? defaultContext(hp);
    if (!Number.isInteger(nCtx) || nCtx < 1) {
      throw new LimitError(`Cannot use a context of ${nCtx} tokens: expected a positive integer`);
    }
    const parallel = options.parallel ?? 1;
    if (!Number.isInteger(parallel) || parallel < 1) {
      throw new RangeError(`Cannot decode ${parallel} sequences together: expected at least 1`);
    }
    const runtime = options.runtime ?? createRuntime(await acquireGpu());
    try {
      // --select-per query-head: the forward pass and the caches run on repeated KV heads.
      const kvGroup = options.kv ? kvRepeat(hp, options.kv.selectPer) : 1;
      const weights = await uploadModelWeights(runtime, file, options.onProgress, kvGroup);
      return new GpuModel(file, runtime, weights, repeatKvHParams(hp, kvGroup), {
        ...options,
        nCtx,
      });
    } catch (error) {
      if (!options.runtime) runtime.device.destroy();
      throw error;
    }
  }

  /**
   * Creates a sequence with its own KV cache under the model's policy: in the
   * forward pass's own buffers (a lone session), or in one-row buffers of its
   * own (a batch's).
   *
   * @param shared whether it works in the forward pass's buffers (one per model)
   * @returns the sequence (its caller destroys it)
   */
  createSequence(shared: boolean): Sequence {
    const forward = this.forward;
    const io = shared ? forward.io : forward.createSequenceIo("seq");
    const kv: KvStore = this.#options.kv
      ? new PolicyKvStore(
        this.runtime,
        this.hparams,
        this.#options.kv,
        this.nCtx,
        { prompt: forward.io, decode: io },
        this.kvTypes,
        this.#options.recordFates ?? false,
      )
      : new FullKvStore(this.runtime, this.hparams, this.nCtx, this.kvTypes);
    return new Sequence(this.runtime, forward, kv, io);
  }

  /** Frees the forward pass and the weights, the device when the model acquired it, and closes the file. */
  destroy(): void {
    this.forward.destroy();
    this.weights.destroy();
    if (!this.#options.runtime) this.runtime.device.destroy();
    this.file.close();
  }
}

/**
 * The context a sequence gets when none is asked for: the trained context
 * length, at most 4096 tokens.
 *
 * @param hp the model's hyper-parameters
 * @returns tokens
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultContext } from "./gpu_model.ts";
 * assert.equal(defaultContext({ nCtxTrain: 131072 }), 4096);
 * ```
 */
export function defaultContext(hp: Pick<ModelHParams, "nCtxTrain">): number {
  return Math.min(hp.nCtxTrain, 4096);
}
