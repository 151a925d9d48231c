/**
 * `d2o generate --prompts FILE`: every prompt of the file through one batch
 * engine, `-np/--parallel` sequences decoded together with continuous
 * batching, one JSON line per prompt on stdout in finishing order (its
 * result, or its error when it cannot run while the others do, or after a
 * stop signal its interrupted or not-started state); progress on stderr on a
 * terminal (with `--verbose` off one, a line every few seconds of a long
 * prompt). `--kv-memory SIZE` caps the KV cache of all running sequences
 * together. The run's limits are checked before the upload and before any
 * output (`run_limits.ts`), as for one prompt.
 *
 * @module
 */

import { BatchEngine } from "../batch/batch_engine.ts";
import {
  type BatchFailure,
  type BatchLine,
  type BatchRequest,
  failureLine,
  runBatch,
} from "../batch/scheduler.ts";
import { D2oError, ExitCode, type ExitCodeName, UsageError } from "../errors.ts";
import { type AdapterFacts, adapterLimits } from "../gpu/device.ts";
import type { KvTypes } from "../gpu/ops/kv_elem.ts";
import { describeKvOptions } from "../kv/describe.ts";
import type { KvOptions } from "../kv/options.ts";
import { defaultContext } from "../model/gpu_model.ts";
import { promptTokens } from "../model/generation.ts";
import { openModel } from "../model/model_file.ts";
import { checkRunLimits } from "../model/run_limits.ts";
import { peakRssBytes } from "../gpu/host_memory.ts";
import type { ModelFile } from "../model/model_file.ts";
import { resolveSeed, type SamplerParams, samplerParams } from "../sample/params.ts";
import type { Tokenizer } from "../tokenizer/tokenizer.ts";
import { tokenizerFromMetadata } from "../tokenizer/mod.ts";
import { BatchLines } from "./batch_lines.ts";
import { readPromptsFile } from "./batch_prompts.ts";
import { type InterruptWatch, watchInterrupt } from "./interrupt.ts";
import { stderrIsTerminal } from "./io.ts";
import {
  askedKvTypes,
  chooseKvTypes,
  type KvTypeChoice,
  type KvTypeFlags,
  kvTypesLine,
} from "./kv_flags.ts";
import { createProgress, type Progress } from "./progress.ts";

/** The `generate` flags a batch run reads. */
export interface BatchGenerateFlags extends KvTypeFlags {
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

/** The prompts of a batch: those that can run, and the lines of those that cannot. */
interface BatchPlan {
  readonly requests: BatchRequest[];
  /** In file order. */
  readonly failures: BatchFailure[];
  /** Every prompt's id, in file order (the order failures are ranked in). */
  readonly order: readonly (string | number)[];
}

/**
 * Runs `generate --prompts`.
 *
 * @param prompt the positional prompt (must be absent)
 * @param o the flags (`generate`'s options object)
 * @param kv the resolved KV options
 * @param sampler the command line's sampler settings (each prompt may set its temperature and seed)
 * @throws {UsageError} for a positional prompt or a one-prompt flag beside `--prompts`
 * @throws {LimitError} when the context cannot run at all (before any output)
 * @throws {D2oError} of the first failed prompt's class (in file order) when some prompts could
 *   not run; each has its error line and the others ran
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
  const asked = askedKvTypes(o);
  const entries = await readPromptsFile(o.prompts!);
  const model = await openModel(o.model);
  let engine: BatchEngine | undefined;
  try {
    const tokenizer = tokenizerFromMetadata(model.gguf.metadata);
    const nCtx = o.ctx ?? defaultContext(model.hparams);
    const adapter = await adapterLimits();
    const kvTypes = chooseKvTypes(asked, adapter?.hasF16 ?? false);
    const run = { kv, sampler, nCtx, adapter, kvTypes: kvTypes.types };
    const plan = planBatch(model, tokenizer, entries, o, run);
    const lines = new BatchLines(entries.length);
    if (plan.requests.length > 0) {
      const parallel = Math.min(o.parallel ?? 1, plan.requests.length);
      const progress = createProgress("loading weights");
      engine = await BatchEngine.load(model, {
        parallel,
        nCtx,
        maxBatch: o.batch,
        kv,
        kvTypes: kvTypes.types,
        onProgress: progress.update,
      }).finally(progress.done);
      if (o.verbose) reportBatchSetup(engine, kv, plan.requests, o.kvMemory, kvTypes);
    }
    await runRequests(engine, tokenizer, plan, lines, o);
  } finally {
    if (engine) engine.close();
    else model.close();
  }
}

/**
 * Tokenizes every prompt and checks the run's limits (`checkRunLimits`)
 * before the upload and before any output: the context refuses the whole
 * run; a prompt that cannot run gets its error line.
 */
function planBatch(
  model: ModelFile,
  tokenizer: Tokenizer,
  entries: Awaited<ReturnType<typeof readPromptsFile>>,
  o: BatchGenerateFlags,
  run: {
    kv: KvOptions;
    sampler: SamplerParams;
    nCtx: number;
    adapter: AdapterFacts | undefined;
    kvTypes: KvTypes;
  },
): BatchPlan {
  const tokens = entries.map((e) => promptTokens(tokenizer, e.prompt, o.parseSpecial ?? false));
  const limits = checkRunLimits({
    hparams: model.hparams,
    nCtx: run.nCtx,
    kv: run.kv,
    adapter: run.adapter,
    kvTypes: run.kvTypes,
    prompts: entries.map((e, i) => ({
      length: tokens[i]!.length,
      name: `prompt ${JSON.stringify(e.id)}`,
    })),
    kvMemory: o.kvMemory,
  });
  if (limits.warning) console.error(limits.warning);
  const requests: BatchRequest[] = [];
  const failures: BatchFailure[] = [];
  entries.forEach((e, i) => {
    const prompt = tokens[i]!;
    const { error, kvBytes } = limits.prompts[i]!;
    if (error) {
      failures.push(failureLine(e.id, prompt.length, error));
      return;
    }
    requests.push({
      id: e.id,
      prompt,
      emptyPrompt: e.prompt.length === 0,
      nPredict: e.nPredict ?? o.maxTokens,
      sampler: samplerParams({
        ...run.sampler,
        ...(e.temp === undefined ? {} : { temperature: e.temp }),
        seed: e.seed === undefined ? run.sampler.seed : resolveSeed(e.seed),
      }),
      stop: e.stop ?? o.stop ?? [],
      charge: kvBytes,
    });
  });
  return { requests, failures, order: entries.map((e) => e.id) };
}

/** Counts of the lines written, by kind. */
interface Tally {
  finished: number;
  interrupted: number;
  notStarted: number;
  failed: BatchFailure[];
  tokens: number;
}

/**
 * Writes the failed prompts' lines, runs the queue and writes each line as
 * its prompt ends; then the summary: the signal's, or the first failure's.
 */
async function runRequests(
  engine: BatchEngine | undefined,
  tokenizer: Tokenizer,
  plan: BatchPlan,
  lines: BatchLines,
  o: BatchGenerateFlags,
): Promise<void> {
  const interrupt = watchInterrupt();
  const status = batchStatus(o.verbose ?? false);
  const tally: Tally = { finished: 0, interrupted: 0, notStarted: 0, failed: [], tokens: 0 };
  const t0 = performance.now();
  let last = { decoded: 0, decodeMs: 0, most: 0 };
  const write = async (line: BatchLine) => {
    count(tally, line);
    await lines.write(line);
  };
  try {
    for (const failure of plan.failures) await write(failure);
    const batch = engine
      ? runBatch(engine, tokenizer, plan.requests, {
        ignoreEos: o.ignoreEos ?? false,
        kvMemory: o.kvMemory,
        interrupted: () => interrupt.interrupted,
        onPromptProgress: (request, done, total) => {
          lines.probe();
          status.prompt(request.id, done, total);
        },
        onProgress: (p) => {
          lines.probe();
          last = { decoded: p.decoded, decodeMs: p.decodeMs, most: Math.max(last.most, p.active) };
          const rate = p.decoded / (p.decodeMs / 1000);
          status.step(
            `${p.done + plan.failures.length}/${plan.order.length} done, ${p.active} decoding, ${
              rate.toFixed(1)
            } tokens/s`,
          );
        },
      })
      : [];
    for await (const line of batch) await write(line);
  } finally {
    status.done();
    interrupt.dispose();
  }
  if (o.verbose) {
    const ms = performance.now() - t0;
    console.error(
      `d2o: ${lines.written} prompts, ${tally.tokens} tokens in ${(ms / 1000).toFixed(2)} s; ` +
        `decode steps: ${last.decoded} tokens in ${last.decodeMs.toFixed(0)} ms ` +
        `(${(last.decoded / (last.decodeMs / 1000)).toFixed(1)} tokens/s aggregate, ` +
        `at most ${last.most} sequences per step)`,
    );
  }
  finishBatch(tally, plan, interrupt);
}

/** Adds a line to the counts. */
function count(tally: Tally, line: BatchLine): void {
  if (line.stopReason === "error") tally.failed.push(line);
  else if (line.stopReason === "not_started") tally.notStarted++;
  else {
    tally.tokens += line.tokens.length;
    if (line.stopReason === "interrupted") tally.interrupted++;
    else tally.finished++;
  }
}

/**
 * The batch's end: after a stop signal, its error with every count (exit
 * 130/143/129); else, when prompts failed, an error of the first failed
 * prompt's class in file order (each failed prompt has its line).
 */
function finishBatch(tally: Tally, plan: BatchPlan, interrupt: InterruptWatch): void {
  const total = plan.order.length;
  const failed = tally.failed.length;
  if (interrupt.interrupted) {
    const parts = [
      `${tally.interrupted} interrupted`,
      `${tally.notStarted} not started`,
      ...(failed > 0 ? [`${failed} failed`] : []),
    ];
    throw interrupt.error(
      `with ${tally.finished} of ${total} prompts finished, ${parts.slice(0, -1).join(", ")} ` +
        `and ${parts.at(-1)}`,
    );
  }
  if (failed === 0) return;
  const first = plan.order.map((id) => tally.failed.find((f) => f.id === id))
    .find((f) => f !== undefined)!;
  throw new D2oError(
    exitCodeName(first.exitCode),
    `${failed} of ${total} prompts could not run (each has its error line; the others ran); ` +
      `the first: ${first.error}`,
  );
}

/** The class of an exit code (a failed prompt's line carries the code). */
function exitCodeName(code: number): ExitCodeName {
  const found = Object.entries(ExitCode).find(([, c]) => c === code);
  return (found?.[0] ?? "internal") as ExitCodeName;
}

/**
 * The batch's progress on stderr: on a terminal one status line (prompts
 * done, sequences decoding, aggregate tokens/s; a running prompt's tokens);
 * with `--verbose` off a terminal, a line every few seconds of a long prompt.
 */
function batchStatus(verbose: boolean) {
  const tty = stderrIsTerminal();
  const encoder = new TextEncoder();
  const draw = (text: string) => Deno.stderr.writeSync(encoder.encode(`\r\x1b[2K${text}`));
  let prompt: { id: string | number; progress: Progress } | undefined;
  return {
    prompt(id: string | number, done: number, all: number) {
      if (tty) return draw(`d2o: prompt ${JSON.stringify(id)} ${done}/${all} tokens`);
      if (prompt?.id !== id) {
        const label = `prompt ${JSON.stringify(id)}`;
        prompt = {
          id,
          progress: createProgress(label, Deno.stderr, { lines: verbose, unit: "tokens" }),
        };
      }
      prompt.progress.update(done, all);
    },
    step(text: string) {
      if (tty) draw(`d2o: ${text}`);
    },
    done() {
      if (tty) Deno.stderr.writeSync(encoder.encode("\r\x1b[2K"));
    },
  };
}

/** `--verbose`: the model, the device, the slots and the memory laid out once for the batch. */
function reportBatchSetup(
  engine: BatchEngine,
  kv: KvOptions,
  requests: readonly BatchRequest[],
  kvMemory: number | undefined,
  kvTypes: KvTypeChoice,
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
      kvTypesLine(kvTypes),
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
