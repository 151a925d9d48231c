/**
 * Loading a session: the GPU runtime, the weights upload, the forward pass,
 * the KV cache the options ask for and the sampler settings — everything a
 * `Session` runs with, made in that order. Kept apart from the session's run
 * methods (`session.ts`).
 *
 * @module
 */

import { LimitError } from "../errors.ts";
import { acquireGpu } from "../gpu/device.ts";
import { createRuntime, type GpuRuntime } from "../gpu/runtime.ts";
import type { KvStore } from "../kv/cache.ts";
import { FullKvStore } from "../kv/kv_store.ts";
import type { KvOptions } from "../kv/options.ts";
import { PolicyKvStore } from "../kv/policy_store.ts";
import { type SamplerParams, samplerParams } from "../sample/params.ts";
import { GpuForward } from "./forward.ts";
import { type GpuModelWeights, uploadModelWeights } from "./gpu_weights.ts";
import type { ModelHParams } from "./hparams.ts";
import type { ModelFile } from "./model_file.ts";
import { kvRepeat, repeatKvHParams } from "./repeat_kv.ts";

/** Options of `Session.open` and `Session.load`. */
export interface SessionOptions {
  /** Context size: KV cache slots (default: {@linkcode defaultContext}). */
  readonly nCtx?: number;
  /** Most prompt tokens per prefill chunk (default 128). */
  readonly maxBatch?: number;
  /** Keep every prompt row's logits available ({@linkcode Session.evaluate}). */
  readonly allLogits?: boolean;
  /** Fuse the norms and SiLU·mul into the decode mat-vecs (default: on the CPU fallback adapter only). */
  readonly fuseDecode?: boolean;
  /** Sampling settings (default: greedy; otherwise llama.cpp's defaults for what is not given). */
  readonly sampler?: Partial<SamplerParams>;
  /**
   * KV-cache policy and budget. Without it the session keeps the plain full
   * cache (slot = position), which also takes prompts after decoding; with it
   * (even `full`) the cache runs through the policy's slot machinery, one
   * prompt per sequence.
   */
  readonly kv?: KvOptions;
  /** With `kv`: keep what the prefill compression did to each layer (`compress-inspect`). */
  readonly recordFates?: boolean;
  /** A runtime to share (tests); by default the session acquires its own device. */
  readonly runtime?: GpuRuntime;
  /** Called as weights upload: (tensors done, total). */
  readonly onProgress?: (done: number, total: number) => void;
}

/** What a loaded session runs with. */
export interface SessionParts {
  /** The GPU runtime (shared or the session's own). */
  readonly runtime: GpuRuntime;
  /** Whether the session acquired the device itself (and destroys it on close). */
  readonly ownsDevice: boolean;
  /** The weights on the GPU. */
  readonly weights: GpuModelWeights;
  /** The forward pass. */
  readonly forward: GpuForward;
  /** The KV cache. */
  readonly kv: KvStore;
  /** The validated sampler settings. */
  readonly sampler: SamplerParams;
}

/**
 * Uploads an opened model and builds the forward pass and the KV cache.
 *
 * @param model an opened, validated model (still owned by the caller)
 * @param options context, batch, KV policy, sampler and device
 * @returns the parts
 * @throws {GpuError} when there is no WebGPU adapter
 * @throws {LimitError} for a context size below 1
 */
export async function loadSessionParts(
  model: ModelFile,
  options: SessionOptions,
): Promise<SessionParts> {
  const hp = model.hparams;
  const nCtx = options.nCtx ?? defaultContext(hp);
  if (!Number.isInteger(nCtx) || nCtx < 1) {
    throw new LimitError(`Cannot use a context of ${nCtx} tokens: expected a positive integer`);
  }
  const runtime = options.runtime ?? createRuntime(await acquireGpu());
  // --select-per query-head: the forward pass and the cache run on repeated KV heads.
  const kvGroup = options.kv ? kvRepeat(hp, options.kv.selectPer) : 1;
  const run = repeatKvHParams(hp, kvGroup);
  const weights = await uploadModelWeights(runtime, model, options.onProgress, kvGroup);
  const compressing = options.kv !== undefined;
  const forward = new GpuForward(runtime, run, weights, {
    nCtx,
    // A compressing cache runs every prompt through the prompt-chunk graph.
    maxBatch: Math.max(compressing ? 2 : 1, options.maxBatch ?? 128),
    allLogits: options.allLogits ?? false,
    ...(options.fuseDecode === undefined ? {} : { fuseDecode: options.fuseDecode }),
  });
  const sampler = samplerParams({ temperature: 0, seed: 0, ...options.sampler });
  const kv: KvStore = options.kv
    ? new PolicyKvStore(runtime, run, options.kv, nCtx, forward.io, options.recordFates ?? false)
    : new FullKvStore(runtime, hp, nCtx);
  // A cache that never compresses has its step caches from the start (evaluate needs no prefill).
  if (kv.step) {
    forward.setPrefillCaches(kv.prefill(0, 0));
    forward.setDecodeCaches(kv.step);
  }
  return { runtime, ownsDevice: !options.runtime, weights, forward, kv, sampler };
}

/**
 * The context a session gets when none is asked for: the trained context
 * length, at most 4096 tokens.
 *
 * @param hp the model's hyper-parameters
 */
export function defaultContext(hp: ModelHParams): number {
  return Math.min(hp.nCtxTrain, 4096);
}
