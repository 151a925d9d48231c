/**
 * `d2o generate`: streams a model's continuation of a prompt to stdout.
 * `runGenerate` reads like llama.cpp's `simple` example: args → load (with
 * tokenize) → sampler → loop → report → free, each step one function. Only the generated text goes to stdout;
 * progress, timings and warnings go to stderr.
 *
 * @module
 */

import { Command } from "commander";
import type { Session } from "../model/session.ts";
import { describeKvOptions } from "../kv/describe.ts";
import { type KvOptions, resolveKvOptions } from "../kv/options.ts";
import { DEFAULT_KV_POLICY } from "../kv/registry.ts";
import {
  describeSampler,
  MAX_REPEAT_LAST_N,
  resolveSeed,
  type SamplerParams,
  samplerParams,
} from "../sample/params.ts";
import { BUILTIN_CHAT_FORMATS } from "../chat/builtin.ts";
import { promptText } from "./chat_prompt.ts";
import { InterruptedError, UsageError } from "../errors.ts";
import { type InterruptWatch, watchInterrupt } from "./interrupt.ts";
import { createProgress } from "./progress.ts";
import { writeStdout } from "./io.ts";
import {
  addKvTuningFlags,
  askedKvTypes,
  kvInput,
  kvPolicyHelp,
  type KvTuningFlags,
  type KvTypeChoice,
  kvTypesLine,
} from "./kv_flags.ts";
import type { KvTypes } from "../gpu/ops/kv_elem.ts";
import { byteSizeArg, collect, integerIn, numberIn } from "./options.ts";
import { openForPrompt } from "./open_session.ts";
import { peakRssBytes } from "../gpu/host_memory.ts";
import { readPrompt } from "./prompt_input.ts";
import { Generation, type StopReason, tokenLimit } from "../model/generation.ts";

interface GenerateOptions extends KvTuningFlags {
  kv: string;
  kvBudget: string;
  model: string;
  file?: string;
  maxTokens: number;
  temp: number;
  topK: number;
  topP: number;
  minP: number;
  repeatPenalty: number;
  repeatLastN: number;
  seed: number;
  stop?: string[];
  ctx?: number;
  batch: number;
  ignoreEos?: boolean;
  parseSpecial?: boolean;
  chat?: boolean;
  system?: string;
  chatTemplate?: string;
  chatMessages?: string;
  chatDate?: string;
  printPrompt?: boolean;
  echo?: boolean;
  json?: boolean;
  jsonl?: boolean;
  verbose?: boolean;
  prompts?: string;
  parallel?: number;
  kvMemory?: number;
}

/** What `--json` prints at the end, and the last `--jsonl` event. */
export interface GenerateResult {
  /** The generated text (without the prompt). */
  text: string;
  /** Prompt token ids, BOS included. */
  promptTokens: number[];
  /** Generated token ids, including a final EOS if one was sampled. */
  tokens: number[];
  /** Why generation ended. */
  stopReason: StopReason;
  /** Seed used for sampling. */
  seed: number;
  /** Timings in milliseconds and tokens per second. */
  timings: {
    loadMs: number;
    /** Shader compilation during the prompt, not counted in `promptMs`. */
    compileMs: number;
    /** Prompt to first token; the KV compression that follows it counts in `decodeMs`. */
    promptMs: number;
    promptTokensPerSecond: number;
    decodeMs: number;
    decodeTokensPerSecond: number;
  };
  /** GPU memory in bytes; `kvCacheFull` is what the uncompressed cache would hold now. */
  memory: {
    weights: number;
    kvCache: number;
    kvCacheLive: number;
    kvCacheFull: number;
    scratch: number;
  };
  /** The KV policy and its per-layer budgets (tokens kept per layer). */
  kv: { policy: string; budget: string; layerSlots: number[] };
}

/** Builds the `generate` subcommand. */
export function generateCommand(): Command {
  const command = new Command("generate")
    .description("stream a model's continuation of a prompt to stdout")
    .argument("[prompt]", "prompt text; - (or no prompt with piped stdin) reads stdin")
    .requiredOption("-m, --model <path>", "path to a .gguf model")
    .option("-f, --file <path>", "read the prompt from a file")
    .option(
      "-n, --max-tokens <n>",
      "tokens to generate; -1 = until end of sequence or a full context (-c), whatever the " +
        "KV policy (a compressing cache goes past -c only with an explicit -n N)",
      integerIn(-1),
      -1,
    )
    .option("--temp <t>", "temperature; 0 = greedy", numberIn(0), 0.8)
    .option("--top-k <k>", "keep the k most likely tokens; 0 = off", integerIn(0), 40)
    .option(
      "--top-p <p>",
      "keep the smallest set with probability ≥ p; 1 = off",
      numberIn(0, 1),
      0.95,
    )
    .option(
      "--min-p <p>",
      "drop tokens below p × the top probability; 0 = off",
      numberIn(0, 1),
      0.05,
    )
    .option("--repeat-penalty <x>", "penalise repeats of the last tokens; 1 = off", numberIn(0), 1)
    .option(
      "--repeat-last-n <n>",
      "tokens the repeat penalty looks back over",
      integerIn(0, MAX_REPEAT_LAST_N),
      64,
    )
    .option("--seed <n>", "random seed; -1 = random", integerIn(-1, 0xfffffffe), -1)
    .option("--stop <text>", "stop when this text is generated (repeatable)", collect)
    .option(
      "-c, --ctx <n>",
      "context size in tokens (default: the model's, at most 4096)",
      integerIn(1),
    )
    .option("-b, --batch <n>", "prompt tokens per prefill chunk", integerIn(1, 4096), 128)
    .option(
      "--prompts <file>",
      "run every prompt of FILE (one per line, or JSON Lines {id, prompt, n_predict, temp, " +
        "seed, stop}) in a batch; prints one JSON line per prompt as it finishes",
    )
    .option(
      "--parallel <n>",
      "with --prompts: sequences decoded together (-np); a finished one's slot takes the next prompt",
      integerIn(1, 256),
      1,
    )
    .option(
      "--kv-memory <size>",
      "with --prompts: KV bytes all running sequences may hold together (e.g. 256MiB); a " +
        "compressing policy is charged its budget",
      byteSizeArg,
    )
    .option("--ignore-eos", "keep generating past end-of-sequence tokens")
    .option("--parse-special", "recognise special tokens such as <s> written in the prompt")
    .option("--chat", "the prompt is a user message, rendered with the model's chat template")
    .option("--system <text>", "a system message before the user message (implies --chat)")
    .option(
      "--chat-template <file|name>",
      `a Jinja chat template file, or a built-in: ${[...BUILTIN_CHAT_FORMATS.keys()].join(", ")}`,
    )
    .option("--chat-messages <file>", "a JSON list of {role, content} messages (implies --chat)")
    .option(
      "--chat-date <yyyy-mm-dd>",
      "the date the template's strftime_now gives (default: today)",
    )
    .option("--print-prompt", "print the exact text that would be tokenized, then exit")
    .option("--echo", "print the prompt before the generated text")
    .option("--json", "print one JSON object at the end instead of streaming text")
    .option("--jsonl", "print one JSON event per token, then a final result event")
    .option("--verbose", "print speed and GPU memory to stderr");
  return addKvTuningFlags(
    command
      .option("--kv <policy>", kvPolicyHelp(), DEFAULT_KV_POLICY)
      .option(
        "--kv-budget <x>",
        "KV budget per layer: a fraction of the prompt (0 < x ≤ 1) or a token count (> 1)",
        "0.2",
      ),
  ).action(async (prompt: string | undefined, options: GenerateOptions) => {
    await runGenerate(prompt, options);
  });
}

/** The command line resolved: prompt text, KV options, sampler settings. */
interface GenerateArgs {
  readonly prompt: string;
  readonly kv: KvOptions;
  /** The KV cache types `-ctk`/`-ctv` ask for. */
  readonly kvTypes: Partial<KvTypes>;
  readonly sampler: SamplerParams;
}

/** What the loop produced. */
interface GenerateRun {
  readonly tokens: number[];
  readonly text: string;
  readonly stopReason: StopReason;
  readonly promptMs: number;
  readonly compileMs: number;
  readonly decodeMs: number;
  /** Prompt tokens run (all of them unless a signal stopped the prompt). */
  readonly promptDone: number;
  readonly promptTotal: number;
}

async function runGenerate(promptArg: string | undefined, o: GenerateOptions): Promise<void> {
  if (o.prompts !== undefined) {
    const kv = resolveKvOptions(kvInput(o.kv, o.kvBudget, o));
    if (kv.compressAt === "first-decode") {
      throw new UsageError(
        "Cannot batch --compress-at first-decode (set by --parity): batched slots compress at " +
          "the end of the prompt; add --compress-at prefill",
      );
    }
    // Loaded only here: a single prompt never needs the batch engine (start-up time).
    const { runBatchGenerate } = await import("./batch_generate.ts");
    return await runBatchGenerate(promptArg, o, kv, samplerOf(o));
  }
  if (o.parallel !== 1 || o.kvMemory !== undefined) {
    throw new UsageError("Cannot use -np/--parallel or --kv-memory without --prompts FILE");
  }
  // args
  const args = await generateArgs(promptArg, o);
  const text = await promptText(o.model, args.prompt, o);
  if (o.printPrompt) return await writeStdout(text.text);

  // load + tokenize: the file and tokenizer first, so a prompt that cannot fit fails before the upload
  const t0 = performance.now();
  const { session, prompt, kvTypes } = await openForPrompt(o.model, text.toTokenize, {
    nCtx: o.ctx,
    kv: args.kv,
    kvTypes: args.kvTypes,
    maxBatch: o.batch,
    sampler: args.sampler, // the session builds the GPU sampler from these
    parseSpecial: text.chat || (o.parseSpecial ?? false),
  });
  const interrupt = watchInterrupt();
  try {
    const loadMs = performance.now() - t0;
    if (o.verbose) reportSetup(session, prompt, args, kvTypes);

    // loop: the session runs decode steps ahead of the read-backs
    const run = await generateLoop(session, prompt, args.prompt, o, interrupt);

    // report
    const result = generateResult(session, prompt, run, args, loadMs);
    if (o.json) await writeStdout(JSON.stringify(result) + "\n");
    if (o.jsonl) await writeStdout(JSON.stringify({ type: "done", ...result }) + "\n");
    if (o.verbose) {
      // Start the report on its own line when the text (on a shared terminal or log) did not end one.
      const streamed = !o.json && !o.jsonl;
      if (
        streamed && run.text.length > 0 && !run.text.endsWith("\n") && !Deno.stdout.isTerminal()
      ) {
        console.error();
      }
      reportTimings(result);
    }
    if (run.stopReason === "interrupted") {
      throw interrupt.error(
        run.tokens.length > 0 || run.promptDone === run.promptTotal
          ? `after ${run.tokens.length} generated tokens`
          : `during the prompt, after ${run.promptDone} of ${run.promptTotal} prompt tokens`,
      );
    }
  } finally {
    // free
    interrupt.dispose();
    session.close();
  }
}

/** Reads the prompt and resolves the KV and sampler flags (every usage error before any loading). */
async function generateArgs(
  promptArg: string | undefined,
  o: GenerateOptions,
): Promise<GenerateArgs> {
  if (o.json && o.jsonl) {
    throw new UsageError(
      "Cannot use --json and --jsonl together: --json prints one object at the end, --jsonl " +
        "one event per token and a final result; choose one",
    );
  }
  const prompt = await readPrompt({ text: promptArg, file: o.file }, { allowEmpty: true });
  const kv = resolveKvOptions(kvInput(o.kv, o.kvBudget, o));
  return { prompt, kv, kvTypes: askedKvTypes(o), sampler: samplerOf(o) };
}

/** The sampler flags, validated (`--seed -1` drawn here). */
function samplerOf(o: GenerateOptions): SamplerParams {
  return samplerParams({
    temperature: o.temp,
    topK: o.topK,
    topP: o.topP,
    minP: o.minP,
    repeatPenalty: o.repeatPenalty,
    repeatLastN: o.repeatLastN,
    seed: resolveSeed(o.seed),
  });
}

/** `--verbose`: the model, the device and the settings, before the run. */
function reportSetup(
  session: Session,
  prompt: readonly number[],
  args: GenerateArgs,
  kvTypes: KvTypeChoice,
): void {
  const hp = session.hparams;
  console.error(
    `d2o: ${hp.name} (${hp.arch}, ${hp.nLayer} layers) on ${session.runtime.ctx.description}; ` +
      `prompt ${prompt.length} tokens, context ${session.nCtx}`,
  );
  console.error(`d2o: sampler: ${describeSampler(args.sampler)}`);
  console.error(`d2o: KV cache: ${describeKvOptions(args.kv)}`);
  console.error(`d2o: ${kvTypesLine(kvTypes)}`);
}

/**
 * Runs the prompt and the decode loop, streaming text (or `--jsonl` events)
 * as tokens come back, until end of sequence, a stop string, `-n`, the
 * context (for `-n -1`, whatever the policy) or a stop signal ends it; a
 * signal during the prompt ends it between two of the prompt's submissions
 * (no token). `-n 0` runs the prompt alone. Warns once, when it happens,
 * that the sequence went past the trained context.
 */
async function generateLoop(
  session: Session,
  prompt: readonly number[],
  promptText: string,
  o: GenerateOptions,
  interrupt: InterruptWatch,
): Promise<GenerateRun> {
  const tok = session.tokenizer;
  const streamText = !o.json && !o.jsonl;
  const emit = streamText ? writeStdout : async (_: string) => {};
  if (o.echo) await emit(promptText);
  // -n -1: the prompt and the generated tokens fill the context, then stop (llama.cpp's rule).
  const limit = tokenLimit(o.maxTokens, prompt.length, session.nCtx);
  const gen = new Generation(tok, {
    nPredict: o.maxTokens,
    limit,
    stop: o.stop ?? [],
    ignoreEos: o.ignoreEos ?? false,
    emptyPrompt: promptText.length === 0,
  });
  const warnPastTrained = trainedContextWarning(session, prompt.length, gen, streamText);
  const watched = watchPrompt(interrupt, o.verbose ?? false);
  const compiled = session.runtime.pipelines.compileMs;
  let compileMs = 0;
  let stopReason: StopReason | undefined;
  const tp = performance.now();
  let td = tp;
  let promptMs = 0;
  const promptDone = () => {
    watched.progress.done();
    compileMs = session.runtime.pipelines.compileMs - compiled;
    promptMs = performance.now() - tp - compileMs;
    td = performance.now();
  };
  // The first token streams before the KV cache compresses the prompt (it does not depend on it).
  const steps = session.generate(prompt, limit, undefined, {
    firstTokenEarly: true,
    onPromptProgress: watched.hook,
  });
  try {
    for await (const next of steps) {
      if (gen.tokens.length === 0) promptDone();
      const { piece, stop } = gen.push(next);
      warnPastTrained(piece);
      if (stop === "eos") {
        stopReason = stop;
        break;
      }
      if (o.jsonl) {
        await writeStdout(JSON.stringify({ type: "token", id: next, text: piece }) + "\n");
      } else if (piece) await emit(piece);
      if (stop) {
        stopReason = stop;
        break;
      }
      if (interrupt.interrupted) {
        stopReason = "interrupted";
        break;
      }
    }
  } catch (error) {
    // A stop signal between two of the prompt's submissions: no token, the partial result.
    if (!(error instanceof InterruptedError) || gen.tokens.length > 0) throw error;
    stopReason = "interrupted";
  }
  if (gen.tokens.length === 0) promptDone();
  // The steps ran out: the token limit (-n 0 runs the prompt alone), else the context is full.
  stopReason ??= gen.tokens.length >= limit ? gen.limitReason : "context_full";
  const decodeMs = performance.now() - td;
  const tail = gen.finish(stopReason);
  if (tail && !o.jsonl) await emit(tail);
  const { tokens, text } = gen;
  if (streamText && text.length > 0 && !text.endsWith("\n") && Deno.stdout.isTerminal()) {
    await emit("\n");
  }
  return {
    tokens,
    text,
    stopReason,
    promptMs,
    compileMs,
    decodeMs,
    promptDone: watched.done(),
    promptTotal: prompt.length,
  };
}

/**
 * The prompt's hook: progress (a bar on a terminal; with `--verbose` a line
 * every few seconds off one) and a checkpoint that stops the prompt when a
 * signal came. `done()` says how many prompt tokens had run.
 */
function watchPrompt(interrupt: InterruptWatch, verbose: boolean) {
  const progress = createProgress("prompt", Deno.stderr, { lines: verbose, unit: "tokens" });
  let ran = 0;
  const hook = (done: number, total: number) => {
    ran = done;
    progress.update(done, total);
    interrupt.throwIfInterrupted(() => `during the prompt, after ${done} of ${total} tokens`);
  };
  return { progress, hook, done: () => ran };
}

/**
 * A check to call with each new piece: warns once, on stderr, when the
 * sequence the model has read (the prompt and every generated token but the
 * newest) goes past the trained context.
 */
function trainedContextWarning(
  session: Session,
  promptLength: number,
  gen: Generation,
  streamText: boolean,
): (piece: string) => void {
  const trained = session.hparams.nCtxTrain;
  let warned = false;
  return (piece) => {
    if (warned || promptLength + gen.tokens.length - 1 <= trained) return;
    warned = true;
    const shown = gen.text.slice(0, gen.text.length - piece.length);
    const open = streamText && shown.length > 0 && !shown.endsWith("\n") &&
      Deno.stdout.isTerminal();
    console.error(
      `${open ? "\n" : ""}d2o: warning: generation went past the model's trained context of ` +
        `${trained} tokens; the text may degrade from here`,
    );
  };
}

/** The `--json` result of a run. */
function generateResult(
  session: Session,
  promptTokens: number[],
  run: GenerateRun,
  args: GenerateArgs,
  loadMs: number,
): GenerateResult {
  const mem = session.memory;
  const { kv } = args;
  const decodeSteps = Math.max(0, run.tokens.length - 1);
  return {
    text: run.text,
    promptTokens,
    tokens: run.tokens,
    stopReason: run.stopReason,
    seed: args.sampler.seed,
    timings: {
      loadMs,
      compileMs: run.compileMs,
      promptMs: run.promptMs,
      promptTokensPerSecond: promptTokens.length / (run.promptMs / 1000),
      decodeMs: run.decodeMs,
      decodeTokensPerSecond: decodeSteps > 0 ? decodeSteps / (run.decodeMs / 1000) : 0,
    },
    memory: {
      weights: mem.weightBytes,
      kvCache: mem.kvBytes,
      kvCacheLive: mem.kvLiveBytes,
      kvCacheFull: mem.kvFullBytes,
      scratch: mem.scratchBytes,
    },
    kv: {
      policy: kv.policy,
      budget: kv.budget.kind === "fraction" ? String(kv.budget.value) : `${kv.budget.value} tokens`,
      layerSlots: layerSlots(session),
    },
  };
}

function reportTimings(r: GenerateResult): void {
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;
  const t = r.timings;
  console.error(
    [
      `d2o: load ${t.loadMs.toFixed(0)} ms`,
      `prompt ${r.promptTokens.length} tokens in ${t.promptMs.toFixed(1)} ms ` +
      `(${t.promptTokensPerSecond.toFixed(1)} tokens/s), shader compilation ` +
      `${t.compileMs.toFixed(0)} ms apart`,
      `decode ${Math.max(0, r.tokens.length - 1)} tokens in ${t.decodeMs.toFixed(1)} ms ` +
      `(${t.decodeTokensPerSecond.toFixed(1)} tokens/s)`,
      `GPU memory: weights ${mib(r.memory.weights)}, KV cache ${mib(r.memory.kvCache)} ` +
      `allocated (${r.kv.policy}), scratch ${mib(r.memory.scratch)}; ` +
      `peak host RSS ${mib(peakRssBytes())}`,
      `KV tokens kept per layer: ${r.kv.layerSlots.join(", ")}; the ${
        r.promptTokens.length + r.tokens.length - 1
      } tokens of this run would take ${mib(r.memory.kvCacheFull)} uncompressed`,
      `stop: ${r.stopReason}`,
    ].join("\nd2o: "),
  );
}

/** Slots each layer keeps (C_ℓ) under the session's plan; the context for a plain cache. */
function layerSlots(session: Session): number[] {
  const plan = session.kvStore.plan;
  if (plan) return plan.layers.map((l) => l.slots);
  return Array.from({ length: session.hparams.nLayer }, () => session.nCtx);
}
