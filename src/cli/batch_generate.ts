/**
 * `d2o generate --prompts FILE`: every prompt of the file through one batch
 * engine, `-np/--parallel` sequences decoded together with continuous
 * batching, one JSON line per finished prompt on stdout in finishing order;
 * progress (done/total, aggregate tokens/s) on stderr on a terminal.
 * `--kv-memory SIZE` caps the KV cache of all running sequences together.
 *
 * @module
 */

import { BatchEngine } from "../batch/batch_engine.ts";
import { sequenceKvBytes } from "../kv/memory_estimate.ts";
import { type BatchRequest, type BatchResult, runBatch } from "../batch/scheduler.ts";
import { UsageError } from "../errors.ts";
import { describeKvOptions } from "../kv/describe.ts";
import type { KvOptions } from "../kv/options.ts";
import { defaultContext } from "../model/gpu_model.ts";
import { promptFitError, promptTokens } from "../model/generation.ts";
import { openModel } from "../model/model_file.ts";
import { peakRssBytes } from "../gpu/host_memory.ts";
import type { ModelFile } from "../model/model_file.ts";
import { resolveSeed, type SamplerParams, samplerParams } from "../sample/params.ts";
import type { Tokenizer } from "../tokenizer/tokenizer.ts";
import { tokenizerFromMetadata } from "../tokenizer/mod.ts";
import { readPromptsFile } from "./batch_prompts.ts";
import { watchInterrupt } from "./interrupt.ts";
import { stderrIsTerminal, writeStdout } from "./io.ts";
import { createProgress } from "./progress.ts";

/** The `generate` flags a batch run reads. */
export interface BatchGenerateFlags {
  readonly model: string;
  readonly prompts?: string;
  readonly parallel?: number;
  readonly kvMemory?: number;
  readonly ctx?: number;
  readonly batch: number;
  readonly maxTokens: number;
  readonly seed: number;
  readonly stop?: string[];
  readonly ignoreEos?: boolean;
  readonly parseSpecial?: boolean;
  readonly verbose?: boolean;
}

/** Flags that mean one prompt and cannot go with `--prompts`. */
const SINGLE_PROMPT_FLAGS: readonly [string, string][] = [
  ["file", "-f/--file"],
  ["chat", "--chat"],
  ["system", "--system"],
  ["chatMessages", "--chat-messages"],
  ["printPrompt", "--print-prompt"],
  ["echo", "--echo"],
  ["json", "--json"],
  ["jsonl", "--jsonl"],
];

/**
 * Runs `generate --prompts`.
 *
 * @param prompt the positional prompt (must be absent)
 * @param o the flags (`generate`'s options object)
 * @param kv the resolved KV options
 * @param sampler the command line's sampler settings (each prompt may set its temperature and seed)
 * @throws {UsageError} for a positional prompt or a one-prompt flag beside `--prompts`
 * @throws {LimitError} when a prompt does not fit the context or the memory cap
 */
export async function runBatchGenerate(
  prompt: string | undefined,
  o: BatchGenerateFlags,
  kv: KvOptions,
  sampler: SamplerParams,
): Promise<void> {
  const given = o as unknown as Record<string, unknown>;
  const clash = SINGLE_PROMPT_FLAGS.filter(([key]) =>
    given[key] !== undefined && given[key] !== false
  );
  if (prompt !== undefined || clash.length > 0) {
    const what = prompt !== undefined ? "a prompt argument" : clash.map(([, f]) => f).join(", ");
    throw new UsageError(
      `Cannot use --prompts with ${what}: --prompts reads every prompt from its file and prints one JSON line per prompt`,
    );
  }
  const entries = await readPromptsFile(o.prompts!);
  const model = await openModel(o.model);
  let engine: BatchEngine | undefined;
  try {
    const tokenizer = tokenizerFromMetadata(model.gguf.metadata);
    const nCtx = o.ctx ?? defaultContext(model.hparams);
    const requests = entries.map((e): BatchRequest => {
      const tokens = promptTokens(tokenizer, e.prompt, o.parseSpecial ?? false);
      const what = `prompt ${JSON.stringify(e.id)}`;
      const unfit = promptFitError(tokens.length, nCtx, model.hparams.nCtxTrain, what);
      if (unfit) throw unfit;
      return {
        id: e.id,
        prompt: tokens,
        emptyPrompt: e.prompt.length === 0,
        nPredict: e.nPredict ?? o.maxTokens,
        sampler: samplerParams({
          ...sampler,
          ...(e.temp === undefined ? {} : { temperature: e.temp }),
          seed: e.seed === undefined ? sampler.seed : resolveSeed(e.seed),
        }),
        stop: e.stop ?? o.stop ?? [],
        charge: sequenceKvBytes(kv, model.hparams, tokens.length, nCtx),
      };
    });
    const parallel = Math.min(o.parallel ?? 1, requests.length);
    const progress = createProgress("loading weights");
    engine = await BatchEngine.load(model, {
      parallel,
      nCtx,
      maxBatch: o.batch,
      kv,
      onProgress: progress.update,
    }).finally(progress.done);
    if (o.verbose) reportBatchSetup(engine, kv, requests, o.kvMemory);
    await runRequests(engine, tokenizer, requests, o);
  } finally {
    if (engine) engine.close();
    else model.close();
  }
}

/** Runs the queue and prints each result as it finishes. */
async function runRequests(
  engine: BatchEngine,
  tokenizer: Tokenizer,
  requests: readonly BatchRequest[],
  o: BatchGenerateFlags,
): Promise<void> {
  const interrupt = watchInterrupt();
  const tty = stderrIsTerminal();
  const t0 = performance.now();
  let last = { decoded: 0, decodeMs: 0, most: 0 };
  const results: BatchResult[] = [];
  try {
    for await (
      const result of runBatch(engine, tokenizer, requests, {
        ignoreEos: o.ignoreEos ?? false,
        kvMemory: o.kvMemory,
        interrupted: () => interrupt.interrupted,
        onProgress: (p) => {
          last = { decoded: p.decoded, decodeMs: p.decodeMs, most: Math.max(last.most, p.active) };
          if (!tty) return;
          const rate = p.decoded / (p.decodeMs / 1000);
          Deno.stderr.writeSync(new TextEncoder().encode(
            `\r\x1b[2Kd2o: ${p.done}/${p.total} done, ${p.active} decoding, ${
              rate.toFixed(1)
            } tokens/s`,
          ));
        },
      })
    ) {
      results.push(result);
      await writeStdout(JSON.stringify(result) + "\n");
    }
  } finally {
    if (tty) Deno.stderr.writeSync(new TextEncoder().encode("\r\x1b[2K"));
    interrupt.dispose();
  }
  if (o.verbose) {
    const ms = performance.now() - t0;
    const tokens = results.reduce((s, r) => s + r.tokens.length, 0);
    console.error(
      `d2o: ${results.length} prompts, ${tokens} tokens in ${
        (ms / 1000).toFixed(2)
      } s; decode steps: ` +
        `${last.decoded} tokens in ${last.decodeMs.toFixed(0)} ms ` +
        `(${(last.decoded / (last.decodeMs / 1000)).toFixed(1)} tokens/s aggregate, ` +
        `at most ${last.most} sequences per step)`,
    );
  }
  if (results.some((r) => r.stopReason === "interrupted")) {
    throw interrupt.error(`after ${results.length} of ${requests.length} prompts`);
  }
}

/** `--verbose`: the model, the device, the slots and the memory laid out once for the batch. */
function reportBatchSetup(
  engine: BatchEngine,
  kv: KvOptions,
  requests: readonly BatchRequest[],
  kvMemory: number | undefined,
): void {
  const hp: ModelFile["hparams"] = engine.model.hparams;
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;
  const m = engine.memory;
  const charges = requests.map((r) => r.charge);
  console.error(
    [
      `d2o: ${hp.name} (${hp.arch}, ${hp.nLayer} layers) on ${engine.runtime.ctx.description}; ` +
      `${requests.length} prompts, ${engine.sequences.length} sequences in parallel, context ${engine.nCtx} each`,
      `KV cache: ${describeKvOptions(kv)}`,
      `GPU memory allocated once for the batch: weights ${mib(m.weightBytes)}, activations ` +
      `${mib(m.scratchBytes)} (prompt chunks and ${engine.sequences.length} rows); ` +
      `reused as sequences come and go; peak host RSS so far ${mib(peakRssBytes())}`,
      `KV per sequence (charged before its prompt): ${mib(Math.min(...charges))} to ` +
      `${mib(Math.max(...charges))}; cap ${
        kvMemory === undefined ? `none (the ${engine.sequences.length} sequences)` : mib(kvMemory)
      }`,
    ].join("\nd2o: "),
  );
}
