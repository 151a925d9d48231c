/**
 * Prompt (pp) and decode (tg) speed of one model through a d2o session, the
 * way `generate` runs (decode steps run ahead of their read-backs), with what
 * each decoded token costs: dispatches and submissions (counted on the
 * compute-pass encoder during the decode), and bytes read (weights + KV +
 * scratch).
 *
 * @module
 */

import type { GgufTensorInfo } from "../../src/gguf/types.ts";
import { adapterKvType } from "../../src/gpu/ops/kv_elem.ts";
import type { GpuRuntime } from "../../src/gpu/runtime.ts";
import { Session } from "../../src/model/session.ts";
import { median } from "./machine.ts";

/** Figures of one engine run (medians over the rounds). */
export interface EngineFigures {
  /** Prompt tokens per second. */
  readonly pp: number;
  /** Decoded tokens per second. */
  readonly tg: number;
  /** Compute dispatches per decoded token. */
  readonly dispatchesPerToken: number;
  /** Queue submissions per decoded token. */
  readonly submitsPerToken: number;
  /** Weight bytes one decode step reads (every matrix once, one embedding row). */
  readonly weightBytesPerToken: number;
  /** K/V bytes one decode step reads, at the run's mean depth. */
  readonly kvBytesPerToken: number;
  /** Activation, logit and uniform bytes the session holds (an upper bound on what a step reads). */
  readonly scratchBytes: number;
  /** Flops of one token through the matrices (2 per weight element read). */
  readonly flopsPerToken: number;
  /** Bytes of all weights uploaded. */
  readonly weightBytes: number;
}

/** Counts dispatches and submissions while `counting` is on. */
class DispatchCounter {
  dispatches = 0;
  submits = 0;
  counting = false;
  readonly #restore: () => void;

  constructor() {
    const pass = GPUComputePassEncoder.prototype;
    const queue = GPUQueue.prototype;
    const dispatch = pass.dispatchWorkgroups;
    const submit = queue.submit;
    // deno-lint-ignore no-this-alias
    const counter = this;
    pass.dispatchWorkgroups = function (this: GPUComputePassEncoder, ...args) {
      if (counter.counting) counter.dispatches++;
      return dispatch.apply(this, args);
    };
    queue.submit = function (this: GPUQueue, ...args) {
      if (counter.counting) counter.submits++;
      return submit.apply(this, args);
    };
    this.#restore = () => {
      pass.dispatchWorkgroups = dispatch;
      queue.submit = submit;
    };
  }

  /** Puts the original methods back. */
  restore(): void {
    this.#restore();
  }
}

/** What a decode step reads of the weights, and its flops: every matrix, one embedding row. */
function weightTraffic(tensors: readonly GgufTensorInfo[]): { bytes: number; flops: number } {
  const tied = !tensors.some((t) => t.name === "output.weight");
  let bytes = 0;
  let flops = 0;
  for (const t of tensors) {
    if (t.name === "token_embd.weight") {
      bytes += t.byteSize / t.dims[1]!;
      if (!tied) continue;
    }
    bytes += t.byteSize;
    if (t.dims.length === 2) flops += 2 * t.elementCount;
  }
  return { bytes, flops };
}

/**
 * The prompt the bench feeds every engine: BOS, then a fixed spread of ordinary token ids.
 *
 * @param bosId the model's BOS id
 * @param pp prompt tokens
 */
export function benchPrompt(bosId: number, pp: number): number[] {
  return Array.from({ length: pp }, (_, i) => (i === 0 ? bosId : 3 + (i * 7) % 200));
}

/** Work run around each timed round (the peer runs that interleave with ours). */
export interface RoundHooks {
  /** Runs before round `round` is timed. */
  readonly before?: (round: number) => Promise<void>;
  /** Runs after round `round` was timed. */
  readonly after?: (round: number) => Promise<void>;
}

/**
 * Opens `path`, warms the pipelines, then runs `rounds` times: a `pp`-token
 * prompt, then `tg` decoded tokens.
 *
 * @param rt runtime shared by every model
 * @param path GGUF file
 * @param pp prompt tokens
 * @param tg decoded tokens
 * @param rounds timed rounds
 * @param hooks work to interleave with the rounds
 */
export async function runEngine(
  rt: GpuRuntime,
  path: string,
  pp: number,
  tg: number,
  rounds: number,
  hooks: RoundHooks = {},
): Promise<EngineFigures> {
  // The cache a user's run gets by default (f16 where the adapter has shader-f16).
  const kvType = adapterKvType(rt.ctx.hasF16);
  const s = await Session.open(path, {
    runtime: rt,
    nCtx: pp + tg + 8,
    maxBatch: 128,
    kvTypes: { k: kvType, v: kvType },
  });
  const counter = new DispatchCounter();
  try {
    const prompt = benchPrompt(s.tokenizer.bosId ?? 1, pp);
    // Warm up the pipelines: one chunk of the prompt builds the ops its chunks run.
    await s.prefill(prompt.slice(0, Math.min(pp, 128)));
    const ppTimes: number[] = [];
    const tgTimes: number[] = [];
    for (let round = 0; round < rounds; round++) {
      await hooks.before?.(round);
      s.reset();
      counter.dispatches = counter.submits = 0;
      const t = performance.now();
      let first = 0;
      for await (const _ of s.generate(prompt, tg + 1)) {
        if (first === 0) {
          first = performance.now();
          counter.counting = true;
        }
      }
      counter.counting = false;
      ppTimes.push(first - t);
      tgTimes.push(performance.now() - first);
      await hooks.after?.(round);
    }
    const mem = s.memory;
    const traffic = weightTraffic(s.model.gguf.tensors);
    return {
      pp: pp / (median(ppTimes) / 1000),
      tg: tg / (median(tgTimes) / 1000),
      dispatchesPerToken: counter.dispatches / tg,
      submitsPerToken: counter.submits / tg,
      weightBytesPerToken: traffic.bytes,
      // The live cache grows linearly over the decode: its mean is half of start plus end.
      kvBytesPerToken: (mem.kvLiveBytes * (pp + tg / 2)) / (pp + tg),
      scratchBytes: mem.scratchBytes,
      flopsPerToken: traffic.flops,
      weightBytes: mem.weightBytes,
    };
  } finally {
    counter.restore();
    s.close();
  }
}
