/**
 * Runs a whole profile: for each KV configuration, one session (all sharing
 * one GPU runtime) that runs every speed test and scores every text against
 * one full-cache run made first. A configuration or test that fails with a
 * user-level error (a policy the engine cannot run yet, a test that does not
 * fit the context) becomes a row with the error; other errors propagate.
 *
 * @module
 */

import { basename } from "node:path";
import { D2oError } from "../errors.ts";
import { acquireGpu } from "../gpu/device.ts";
import { DEFAULT_KV_TYPES, type KvTypes } from "../gpu/ops/kv_elem.ts";
import { createRuntime, type GpuRuntime } from "../gpu/runtime.ts";
import { kvCompresses } from "../kv/describe.ts";
import { resolveKvOptions } from "../kv/options.ts";
import type { ModelHParams } from "../model/hparams.ts";
import { openModel } from "../model/model_file.ts";
import { Session } from "../model/session.ts";
import { tokenizerFromMetadata } from "../tokenizer/mod.ts";
import type { ProfileConfig } from "./configs.ts";
import { type MemoryFigures, memorySnapshot } from "./memory.ts";
import type { QualityScore, ReferenceDistributions } from "./quality.ts";
import { type KernelTime, measureKernels, runSpeedTest, type SpeedResult } from "./speed.ts";
import { type SpeedTest, testName } from "./test_name.ts";
import { resolvePrefix, scoreText } from "./text_quality.ts";

/** A text to score: its display name and content. */
export interface ProfileText {
  /** Shown in the `test` column (the file's base name). */
  readonly name: string;
  /** The text. */
  readonly text: string;
}

/** What to run. */
export interface ProfileSettings {
  /** Path of the GGUF model. */
  readonly model: string;
  /** KV configurations, in display order. */
  readonly configs: readonly ProfileConfig[];
  /** Speed tests. */
  readonly tests: readonly SpeedTest[];
  /** Timed repetitions of each speed test (after one warm-up). */
  readonly reps: number;
  /** Texts to score. */
  readonly texts: readonly ProfileText[];
  /** Prompt tokens of each text (default: half of it). */
  readonly prefix?: number | undefined;
  /** Context size (default: what the longest test or text needs). */
  readonly nCtx?: number | undefined;
  /** Seed of the synthetic tokens. */
  readonly seed: number;
  /** Decode tokens timed per step with GPU timestamps for each generation test (at most its length). */
  readonly kernelSteps: number;
  /** Element types of the cached keys and values (`-ctk`, `-ctv`; default f32 both). */
  readonly kvTypes?: KvTypes;
}

/** One result row. */
export interface ProfileRow {
  /** `speed` for a pp/tg test, `quality` for a text. */
  readonly kind: "speed" | "quality";
  /** Configuration label (`--kv` name or ablation). */
  readonly kv: string;
  /** Budget as given; `-` for the full cache. */
  readonly budget: string;
  /** Test name (`pp512`, `tg128 @ d1024`) or the text's name. */
  readonly test: string;
  /** The speed test (speed rows). */
  readonly speedTest?: SpeedTest;
  /** Speed figures. */
  readonly speed?: SpeedResult;
  /** GPU time per forward-pass step of a decode token (generation tests). */
  readonly kernels?: readonly KernelTime[];
  /** Prompt tokens and scored tokens of the text (quality rows). */
  readonly text?: { readonly tokens: number; readonly prefix: number };
  /** Quality figures. */
  readonly quality?: QualityScore;
  /** Memory at the end of the (last) run. */
  readonly memory?: MemoryFigures;
  /** Why the row has no figures. */
  readonly error?: string;
}

/** A profile's results. */
export interface ProfileReport {
  /** The model: its file, name (the file's base name) and shape. */
  readonly model: {
    readonly path: string;
    readonly name: string;
    readonly arch: string;
    readonly nLayer: number;
    readonly nCtxTrain: number;
  };
  /** The WebGPU adapter. */
  readonly adapter: string;
  /** Whether kernel times come from GPU timestamp queries. */
  readonly timestamps: boolean;
  /** Context size of every session. */
  readonly nCtx: number;
  /** Element types of every session's cached keys and values: what the KV byte figures count. */
  readonly kvTypes: KvTypes;
  /** Timed repetitions. */
  readonly reps: number;
  /** Rows in configuration order, speed tests then texts. */
  readonly rows: readonly ProfileRow[];
}

/** Hooks of {@linkcode runProfile}. */
export interface ProfileHooks {
  /** Progress: units done of total (runs and texts). */
  readonly onProgress?: (done: number, total: number) => void;
  /** A warning for stderr (a configuration that could not run, a long context). */
  readonly onWarning?: (message: string) => void;
  /** A runtime to share (tests); by default one is created and destroyed. */
  readonly runtime?: GpuRuntime;
}

/**
 * Runs every configuration's speed tests and text scores.
 *
 * @param settings what to run
 * @param hooks progress, warnings and an optional runtime
 * @returns the report
 * @throws {InputError} for a missing or malformed model
 * @throws {UsageError} for a `--prefix` a text cannot take
 * @throws {GpuError} when there is no WebGPU adapter
 */
export async function runProfile(
  settings: ProfileSettings,
  hooks: ProfileHooks = {},
): Promise<ProfileReport> {
  const { hp, texts } = await readTexts(settings);
  const nCtx = settings.nCtx ?? neededContext(settings.tests, texts.map((t) => t.tokens.length));
  if (nCtx > hp.nCtxTrain) {
    hooks.onWarning?.(`a context of ${nCtx} tokens is past the model's trained ${hp.nCtxTrain}`);
  }
  const runtime = hooks.runtime ?? createRuntime(await acquireGpu());
  const run = new ProfileRun(settings, hooks, runtime, nCtx, texts);
  try {
    // The full cache first: its runs of the texts are every other configuration's reference.
    const order = [
      ...settings.configs.filter(isFull),
      ...settings.configs.filter((c) => !isFull(c)),
    ];
    if (texts.length > 0 && !order.some(isFull)) await run.references();
    const rowsOf = new Map<ProfileConfig, ProfileRow[]>();
    for (const config of order) rowsOf.set(config, await run.config(config));
    return {
      model: {
        path: settings.model,
        name: basename(settings.model).replace(/\.gguf$/i, ""),
        arch: hp.arch,
        nLayer: hp.nLayer,
        nCtxTrain: hp.nCtxTrain,
      },
      adapter: runtime.ctx.description,
      timestamps: runtime.ctx.hasTimestamps,
      nCtx,
      kvTypes: settings.kvTypes ?? DEFAULT_KV_TYPES,
      reps: settings.reps,
      rows: settings.configs.flatMap((c) => rowsOf.get(c) ?? []),
    };
  } finally {
    if (!hooks.runtime) runtime.device.destroy();
  }
}

/** A text's tokens and the prompt part of them. */
interface TokenizedText {
  readonly name: string;
  readonly tokens: number[];
  readonly prefix: number;
}

/** Opens the model for its shape and tokenizer, and tokenizes the texts. */
async function readTexts(
  settings: ProfileSettings,
): Promise<{ hp: ModelHParams; texts: TokenizedText[] }> {
  const model = await openModel(settings.model);
  try {
    const tok = tokenizerFromMetadata(model.gguf.metadata);
    const texts = settings.texts.map((t) => {
      const tokens = tok.encode(t.text);
      return { name: t.name, tokens, prefix: resolvePrefix(settings.prefix, tokens.length) };
    });
    return { hp: model.hparams, texts };
  } finally {
    model.close();
  }
}

/** One profile's sessions, progress and full-cache references. */
class ProfileRun {
  readonly #settings: ProfileSettings;
  readonly #hooks: ProfileHooks;
  readonly #runtime: GpuRuntime;
  readonly #nCtx: number;
  readonly #texts: readonly TokenizedText[];
  readonly #references: (ReferenceDistributions | undefined)[] = [];
  readonly #total: number;
  #done = 0;

  constructor(
    settings: ProfileSettings,
    hooks: ProfileHooks,
    runtime: GpuRuntime,
    nCtx: number,
    texts: readonly TokenizedText[],
  ) {
    this.#settings = settings;
    this.#hooks = hooks;
    this.#runtime = runtime;
    this.#nCtx = nCtx;
    this.#texts = texts;
    this.#total = settings.configs.length * this.#unitsPerConfig() +
      (texts.length > 0 && !settings.configs.some(isFull) ? texts.length : 0);
  }

  /** Scores every text with the full cache alone (no full configuration was asked for). */
  async references(): Promise<void> {
    const session = await this.#open({
      label: "full",
      budget: "-",
      kv: resolveKvOptions({ kv: "full" }),
    });
    try {
      for (const [i, t] of this.#texts.entries()) {
        const run = await guard(() => scoreText(session, t.tokens, t.prefix, { record: true }));
        if ("error" in run) this.#hooks.onWarning?.(`full-cache run of ${t.name}: ${run.error}`);
        else this.#references[i] = run.reference;
        this.#tick();
      }
    } finally {
      session.close();
    }
  }

  /** Every speed test and text of one configuration, in one session. */
  async config(config: ProfileConfig): Promise<ProfileRow[]> {
    const base = { kv: config.label, budget: config.budget };
    const speedRow = (test: SpeedTest) => ({
      kind: "speed" as const,
      ...base,
      test: testName(test),
      speedTest: test,
    });
    const textRow = (t: TokenizedText) => ({
      kind: "quality" as const,
      ...base,
      test: t.name,
      text: { tokens: t.tokens.length, prefix: t.prefix },
    });
    const rows: ProfileRow[] = [];
    let session: Session;
    try {
      session = await this.#open(config);
    } catch (error) {
      if (!(error instanceof D2oError)) throw error;
      this.#hooks.onWarning?.(`skipped ${config.label} ${config.budget}: ${error.message}`);
      for (const test of this.#settings.tests) {
        rows.push({ ...speedRow(test), error: error.message });
      }
      for (const t of this.#texts) rows.push({ ...textRow(t), error: error.message });
      this.#done += this.#unitsPerConfig();
      this.#hooks.onProgress?.(this.#done, this.#total);
      return rows;
    }
    try {
      for (const test of this.#settings.tests) {
        rows.push({ ...speedRow(test), ...await guard(() => this.#measureSpeed(session, test)) });
      }
      for (const [i, t] of this.#texts.entries()) {
        rows.push({ ...textRow(t), ...await this.#score(session, config, i, t) });
        this.#tick();
      }
    } finally {
      session.close();
    }
    return rows;
  }

  /** One text's quality under a configuration, against the full cache's run of it. */
  async #score(
    session: Session,
    config: ProfileConfig,
    i: number,
    t: TokenizedText,
  ): Promise<Partial<ProfileRow>> {
    const reference = this.#references[i];
    const record = isFull(config) && reference === undefined;
    if (!record && !reference) {
      return { error: "Cannot compare with the full cache: its run of this text failed" };
    }
    return await guard(async () => {
      const run = await scoreText(
        session,
        t.tokens,
        t.prefix,
        reference ? { reference } : { record },
      );
      if (run.reference) this.#references[i] = run.reference;
      return { quality: run.score, memory: run.memory };
    });
  }

  async #measureSpeed(session: Session, test: SpeedTest): Promise<Partial<ProfileRow>> {
    const { reps, seed, kernelSteps } = this.#settings;
    const speed = await runSpeedTest(session, test, { reps, seed, onRun: () => this.#tick() });
    const memory = memorySnapshot(session);
    const kernels = test.nGen > 0 && kernelSteps > 0
      ? await measureKernels(session, test, { steps: Math.min(kernelSteps, test.nGen), seed })
      : undefined;
    return { speed, memory, ...(kernels ? { kernels } : {}) };
  }

  /**
   * A configuration's session. The full cache runs as the plain cache (slot =
   * position), which also takes a prompt after the depth tokens; the other
   * policies run through their slot caches.
   */
  #open(config: ProfileConfig): Promise<Session> {
    return Session.open(this.#settings.model, {
      nCtx: this.#nCtx,
      runtime: this.#runtime,
      kvTypes: this.#settings.kvTypes ?? DEFAULT_KV_TYPES,
      ...(isFull(config) ? {} : { kv: config.kv }),
    });
  }

  #unitsPerConfig(): number {
    return this.#settings.tests.length * (this.#settings.reps + 1) + this.#texts.length;
  }

  #tick(): void {
    this.#hooks.onProgress?.(++this.#done, this.#total);
  }
}

/**
 * The context a profile needs: the deepest test plus its timed tokens (a
 * generation test's prompt is at least BOS), and the longest text.
 *
 * @param tests the speed tests
 * @param textLengths token counts of the texts
 * @returns the context size, at least 1
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { neededContext } from "./run.ts";
 * assert.equal(neededContext([{ nPrompt: 0, nGen: 128, depth: 1024 }], [1449]), 1449);
 * ```
 */
export function neededContext(tests: readonly SpeedTest[], textLengths: readonly number[]): number {
  return Math.max(
    1,
    ...tests.map((t) => t.nPrompt > 0 ? t.depth + t.nPrompt : Math.max(t.depth, 1) + t.nGen),
    ...textLengths,
  );
}

function isFull(config: ProfileConfig): boolean {
  return !kvCompresses(config.kv);
}

/**
 * Runs one measurement; a user-level error (a policy or test the engine cannot
 * run) becomes the row's `error`, any other error propagates.
 *
 * @param run the measurement
 * @returns its figures, or `{ error }`
 */
export async function guard<T extends object>(
  run: () => Promise<T>,
): Promise<T | { error: string }> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof D2oError) return { error: error.message };
    throw error;
  }
}
