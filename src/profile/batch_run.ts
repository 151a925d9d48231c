/**
 * `profile -b` and `profile --kv-memory`: decode speed of B sequences
 * decoded together. Each sequence gets its own synthetic prompt of `-p`
 * tokens (BOS alone for 0), prefilled once, untimed; after one warm-up
 * step, `reps` timed runs of `-n` decode steps of all B continue them. With a memory cap the batch
 * is the largest whose KV caches fit it at that prompt and generation length
 * (a compressing policy charged its budget, `batch_charge.ts`): the paper's
 * throughput experiment. One engine per configuration serves every batch
 * size (the first B slots).
 *
 * @module
 */

import { basename } from "node:path";
import { BatchEngine } from "../batch/batch_engine.ts";
import { sequenceKvBytes } from "../kv/memory_estimate.ts";
import { DEFAULT_KV_TYPES, type KvTypes } from "../gpu/ops/kv_elem.ts";
import type { GpuRuntime } from "../gpu/runtime.ts";
import { kvCompresses } from "../kv/describe.ts";
import type { ModelHParams } from "../model/hparams.ts";
import { openModel } from "../model/model_file.ts";
import { samplerParams } from "../sample/params.ts";
import { tokenizerFromMetadata } from "../tokenizer/mod.ts";
import type { ProfileConfig } from "./configs.ts";
import { type MeanStd, meanStd, quantile } from "./stats.ts";
import { guard } from "./run.ts";
import { type KernelTime, meanKernelTimes } from "./speed.ts";
import { promptVocabulary, syntheticTokens } from "./synthetic_tokens.ts";

/** What a batch profile runs. */
export interface BatchProfileSettings {
  /** Path of the GGUF model. */
  readonly model: string;
  /** KV configurations, in display order. */
  readonly configs: readonly ProfileConfig[];
  /** Prompt lengths (`-p`; 0 = BOS alone). */
  readonly prompts: readonly number[];
  /** Generation lengths (`-n`; each > 0). */
  readonly gens: readonly number[];
  /** Batch sizes (`-b`); ignored with `kvMemory`. */
  readonly batches: readonly number[];
  /** KV bytes the batch may hold (`--kv-memory`): the batch is the largest that fits. */
  readonly kvMemory?: number | undefined;
  /** Timed runs of `gens` steps after one warm-up step. */
  readonly reps: number;
  /** Seed of the synthetic prompts. */
  readonly seed: number;
  /** Decode steps timed per dispatch (`--kernels`) after the timed runs; 0 = none. */
  readonly kernelSteps?: number;
  /** Element types of the cached keys and values (`-ctk`, `-ctv`; default f32 both). */
  readonly kvTypes?: KvTypes;
}

/** One batch speed row. */
export interface BatchRow {
  /** Configuration label. */
  readonly kv: string;
  /** Budget as given; `-` for the full cache. */
  readonly budget: string;
  /** `pp{P}+tg{N}` (or `tg{N}` for a BOS prompt). */
  readonly test: string;
  /** Prompt tokens per sequence. */
  readonly nPrompt: number;
  /** Decode steps timed. */
  readonly nGen: number;
  /** Sequences decoded together. */
  readonly batch: number;
  /** Aggregate decode tokens per second (all sequences). */
  readonly aggregate?: MeanStd;
  /** Decode tokens per second of one sequence. */
  readonly perSequence?: MeanStd;
  /** Milliseconds per decode step: median and 90th percentile. */
  readonly msPerStep?: { readonly median: number; readonly p90: number };
  /** KV bytes the batch's caches allocated (all sequences, after the last run's prompts). */
  readonly kvBytes?: number;
  /** KV bytes one sequence is charged (the admission estimate). */
  readonly kvCharge: number;
  /** GPU milliseconds per decode step by forward-pass step (summed over layers and sequences). */
  readonly kernels?: readonly KernelTime[];
  /** Why the row has no figures. */
  readonly error?: string;
}

/** A batch profile's results. */
export interface BatchReport {
  /** The model's name (file base name) and path. */
  readonly model: { readonly path: string; readonly name: string; readonly nLayer: number };
  /** The WebGPU adapter. */
  readonly adapter: string;
  /** The memory cap, when one was given. */
  readonly kvMemory?: number;
  /** Element types of the cached keys and values: what every KV byte figure counts. */
  readonly kvTypes: KvTypes;
  /** Timed runs. */
  readonly reps: number;
  /** Rows in configuration order. */
  readonly rows: readonly BatchRow[];
}

/** Hooks of {@linkcode runBatchProfile}. */
export interface BatchProfileHooks {
  /** Progress: timed runs done of total. */
  readonly onProgress?: (done: number, total: number) => void;
  /** A runtime to share (tests). */
  readonly runtime?: GpuRuntime;
}

/**
 * Runs every configuration × prompt × generation length × batch size.
 *
 * @param settings what to run
 * @param hooks progress and an optional runtime
 * @returns the report
 */
export async function runBatchProfile(
  settings: BatchProfileSettings,
  hooks: BatchProfileHooks = {},
): Promise<BatchReport> {
  const probe = await openModel(settings.model);
  const hp = probe.hparams;
  probe.close();
  const plans = settings.configs.map((config) => ({
    config,
    tests: batchTests(settings, hp, config),
  }));
  const total = plans.reduce((s, p) => s + p.tests.filter((t) => t.batch > 0).length, 0) *
    (settings.reps + 1);
  let done = 0;
  const rows: BatchRow[] = [];
  let adapter = "";
  for (const { config, tests } of plans) {
    const most = Math.max(0, ...tests.map((t) => t.batch));
    if (most === 0) {
      rows.push(...tests.map((t) => ({ ...t, error: "not even one sequence fits --kv-memory" })));
      continue;
    }
    // The --kernels steps come after the test: room for them, not charged.
    const nCtx = Math.max(...tests.map((t) => testContext(t, settings))) +
      (settings.kernelSteps ?? 0);
    const engine = await BatchEngine.load(await openModel(settings.model), {
      parallel: most,
      nCtx,
      kv: kvCompresses(config.kv) ? config.kv : undefined,
      kvTypes: settings.kvTypes ?? DEFAULT_KV_TYPES,
      ...(hooks.runtime ? { runtime: hooks.runtime } : {}),
    });
    adapter = engine.runtime.ctx.description;
    try {
      for (const t of tests) {
        if (t.batch === 0) {
          rows.push({ ...t, error: "not even one sequence fits --kv-memory" });
          continue;
        }
        const tick = () => hooks.onProgress?.(++done, total);
        rows.push({ ...t, ...await guard(() => timeBatch(engine, t, settings, tick)) });
      }
    } finally {
      engine.close();
    }
  }
  return {
    model: {
      path: settings.model,
      name: basename(settings.model).replace(/\.gguf$/i, ""),
      nLayer: hp.nLayer,
    },
    adapter,
    ...(settings.kvMemory === undefined ? {} : { kvMemory: settings.kvMemory }),
    kvTypes: settings.kvTypes ?? DEFAULT_KV_TYPES,
    reps: settings.reps,
    rows,
  };
}

/** A row before it is run. */
type BatchTest = Omit<
  BatchRow,
  "aggregate" | "perSequence" | "msPerStep" | "kvBytes" | "kernels" | "error"
>;

/** A configuration's tests: each prompt × generation length × batch size (or the batch that fits the cap). */
function batchTests(s: BatchProfileSettings, hp: ModelHParams, config: ProfileConfig): BatchTest[] {
  const kv = kvCompresses(config.kv) ? config.kv : undefined;
  return s.prompts.flatMap((nPrompt) =>
    s.gens.flatMap((nGen) => {
      const promptLength = Math.max(1, nPrompt);
      const capacity = testContext({ nPrompt, nGen }, s);
      const types = s.kvTypes ?? DEFAULT_KV_TYPES;
      const kvCharge = sequenceKvBytes(kv, hp, promptLength, capacity, types);
      const batches = s.kvMemory === undefined ? s.batches : [Math.floor(s.kvMemory / kvCharge)];
      const test = nPrompt > 0 ? `pp${nPrompt}+tg${nGen}` : `tg${nGen}`;
      return batches.map((batch) => ({
        kv: config.label,
        budget: config.budget,
        test,
        nPrompt,
        nGen,
        batch,
        kvCharge,
      }));
    })
  );
}

/**
 * Positions a test's sequences reach (its KV charge's capacity): the prompt
 * (BOS alone for 0), one warm-up step, `reps` runs of `nGen` steps.
 */
function testContext(
  t: { readonly nPrompt: number; readonly nGen: number },
  s: BatchProfileSettings,
): number {
  return Math.max(1, t.nPrompt) + 1 + s.reps * t.nGen;
}

/**
 * One test: every sequence's prompt prefilled once (untimed: a long prompt
 * would cost far more than the decode it prepares), one warm-up decode step,
 * then `reps` timed runs of `nGen` steps, each continuing the sequences.
 */
async function timeBatch(
  engine: BatchEngine,
  t: BatchTest,
  s: BatchProfileSettings,
  tick: () => void,
): Promise<BatchRow> {
  const tok = tokenizerFromMetadata(engine.model.gguf.metadata);
  const { bos, ...vocabulary } = promptVocabulary(tok, engine.model.hparams.nVocab);
  const greedy = samplerParams({ temperature: 0, seed: 0 });
  const active = Array.from({ length: t.batch }, (_, i) => i);
  for (const i of active) {
    const prompt = t.nPrompt > 0
      ? syntheticTokens(t.nPrompt, { ...vocabulary, bos, seed: s.seed + i })
      : [bos];
    await engine.start(i, prompt, greedy);
  }
  const kvBytes = engine.memory.sequenceKvBytes.slice(0, t.batch).reduce((a, b) => a + b, 0);
  await engine.step(active);
  tick();
  const runMs: number[] = [];
  const perStep: number[] = [];
  for (let rep = 0; rep < s.reps; rep++) {
    const t0 = performance.now();
    let last = t0;
    for (let step = 0; step < t.nGen; step++) {
      await engine.step(active);
      const now = performance.now();
      perStep.push(now - last);
      last = now;
    }
    runMs.push(last - t0);
    tick();
  }
  const steps = s.kernelSteps ?? 0;
  const kernels = steps > 0 ? await timeKernels(engine, active, steps) : undefined;
  for (const i of active) engine.finish(i);
  return {
    ...t,
    aggregate: meanStd(runMs.map((ms) => (t.batch * t.nGen) / (ms / 1000))),
    perSequence: meanStd(runMs.map((ms) => t.nGen / (ms / 1000))),
    msPerStep: { median: quantile(perStep, 0.5), p90: quantile(perStep, 0.9) },
    kvBytes,
    ...(kernels ? { kernels } : {}),
  };
}

/** Mean GPU milliseconds per decode step by step name, over `steps` timed steps. */
async function timeKernels(
  engine: BatchEngine,
  active: readonly number[],
  steps: number,
): Promise<KernelTime[]> {
  const times: Map<string, number>[] = [];
  for (let i = 0; i < steps; i++) times.push(await engine.profileStep(active));
  return meanKernelTimes(times);
}
