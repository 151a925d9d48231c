/**
 * `d2o profile`: speed, memory and quality of KV policies side by side, in
 * llama-bench's conventions (`pp512`, `tg128 @ d1024`, `-r` repetitions after
 * a warm-up, `-o md|csv|json|jsonl`). Only results go to stdout; a progress
 * bar (on a terminal) and warnings go to stderr.
 *
 * @module
 */

import { Command, InvalidArgumentError, Option } from "commander";
import { basename } from "node:path";
import { InputError, UsageError } from "../errors.ts";
import { adapterLimits } from "../gpu/device.ts";
import { kvCompresses } from "../kv/describe.ts";
import { openModel } from "../model/model_file.ts";
import { checkRunLimits } from "../model/run_limits.ts";
import { isStdinPath, readStdinText } from "./prompt_input.ts";
import { decodeUtf8 } from "./utf8_text.ts";
import { KV_POLICY_NAMES } from "../kv/options.ts";
import { type ProfileConfig, profileConfigs } from "../profile/configs.ts";
import { formatReport, OUTPUT_FORMATS, type OutputFormat } from "../profile/report.ts";
import { type ProfileText, runProfile } from "../profile/run.ts";
import { speedTests } from "../profile/test_name.ts";
import { runBatchProfileCommand } from "./batch_profile.ts";
import { writeStdout } from "./io.ts";
import {
  adapterKvTypes,
  addKvTuningFlags,
  askedKvTypes,
  kvInput,
  type KvTuningFlags,
} from "./kv_flags.ts";
import type { KvTypes } from "../gpu/ops/kv_elem.ts";
import { byteSizeArg, collect, integerIn } from "./options.ts";
import { checkpointed, watchInterrupt } from "./interrupt.ts";
import { createProgress } from "./progress.ts";

/** Decode tokens timed with GPU timestamps per generation test. */
const KERNEL_STEPS = 8;

interface ProfileOptions extends KvTuningFlags {
  model: string;
  kv: string[];
  kvBudget: string[];
  nPrompt: number[];
  nGen: number[];
  nDepth: number[];
  repetitions: number;
  text?: string[];
  prefix?: number;
  perLayer?: boolean;
  kernels?: boolean;
  output: OutputFormat;
  ctx?: number;
  seed: number;
  ablate?: boolean;
  batch?: number[];
  kvMemory?: number;
}

/**
 * Builds the `profile` subcommand.
 *
 * @returns the command
 */
export function profileCommand(): Command {
  const command = new Command("profile")
    .description("measure speed, memory and quality of KV-cache policies side by side")
    .requiredOption("-m, --model <path>", "path to a .gguf model")
    .addOption(listOption("--kv <list>", "policies", textList, [...KV_POLICY_NAMES]))
    .addOption(listOption(
      "--kv-budget <list>",
      "budgets: fractions of the prompt (0 < x ≤ 1) or token counts",
      textList,
      ["0.2"],
    ))
    .addOption(
      listOption("-p, --n-prompt <list>", "prompt lengths (pp tests; 0 = none)", countList, [512]),
    )
    .addOption(
      listOption("-n, --n-gen <list>", "generation lengths (tg tests; 0 = none)", countList, [128]),
    )
    .addOption(
      listOption("-d, --n-depth <list>", "tokens already in the cache before a test", countList, [
        0,
      ]),
    )
    .option("-r, --repetitions <n>", "timed runs of each test after a warm-up", integerIn(1), 5)
    .option(
      "--text <file>",
      "score this text (perplexity, KL, same top token; repeatable)",
      collect,
    )
    .option("--prefix <n>", "prompt tokens of each text (default: half of it)", integerIn(1))
    .option("--per-layer", "add per-layer KV memory")
    .option("--kernels", "add GPU time per forward-pass step of a decode token")
    .addOption(
      new Option("-o, --output <format>", "output format").choices(OUTPUT_FORMATS).default(
        "table",
      ),
    )
    .option(
      "-c, --ctx <n>",
      "context size (default: what the longest test or text needs)",
      integerIn(1),
    )
    .option("--seed <n>", "seed of the synthetic prompt tokens", integerIn(0, 0xffffffff), 0)
    .addOption(
      new Option(
        "-b, --batch <list>",
        "decode this many sequences together (e.g. 1,4,16): aggregate and per-sequence t/s of " +
          "-n decode steps after each sequence's -p prompt",
      ).argParser((v) => countList(v).map((n) => n < 1 ? batchError() : n)),
    )
    .option(
      "--kv-memory <size>",
      "per policy and budget, decode the largest batch whose KV caches fit SIZE (e.g. 256MiB) " +
        "at -p and -n (a compressing policy charged its budget)",
      byteSizeArg,
    )
    .option(
      "--ablate",
      "add d2o ablation rows (−merge, −alloc −merge, values-only merging, 1:1 split, no sinks, merge weight)",
    )
    .action(async (options: ProfileOptions) => {
      await runProfileCommand(options);
    });
  return addKvTuningFlags(command);
}

async function runProfileCommand(o: ProfileOptions): Promise<void> {
  const configs = profileConfigs(o.kv, o.kvBudget, kvInput(undefined, undefined, o), {
    ablate: o.ablate ?? false,
  });
  const asked = askedKvTypes(o);
  if (o.batch !== undefined || o.kvMemory !== undefined) {
    return await runBatchProfileCommand(o, configs, asked);
  }
  const tests = speedTests(o.nPrompt, o.nGen, o.nDepth);
  if (tests.length === 0 && (o.text ?? []).length === 0) {
    throw new UsageError(
      "Nothing to measure: -p 0 and -n 0 ask for no speed test, and no --text asks for quality; " +
        "give -p N, -n N or --text FILE",
    );
  }
  const kvTypes = (await adapterKvTypes(asked)).types;
  if (o.ctx !== undefined) await checkProfileContext(o.model, o.ctx, configs, kvTypes);
  const texts = await Promise.all((o.text ?? []).map(readText));
  const progress = createProgress("profiling");
  using interrupt = watchInterrupt();
  const report = await runProfile({
    model: o.model,
    configs,
    tests,
    reps: o.repetitions,
    texts,
    prefix: o.prefix,
    nCtx: o.ctx,
    seed: o.seed,
    kernelSteps: KERNEL_STEPS,
    kvTypes,
  }, {
    onProgress: checkpointed(progress.update, interrupt, "timed runs and texts"),
    onWarning: (message) => {
      progress.done();
      console.error(`d2o: warning: ${message}`);
    },
  }).finally(progress.done);
  interrupt.throwIfInterrupted("before writing the report");
  await writeStdout(formatReport(report, o.output, {
    perLayer: o.perLayer ?? false,
    kernels: o.kernels ?? false,
  }));
}

/**
 * `-c/--ctx` against the model, the GPU and each configuration's cache before
 * any test runs (the limits generate checks, `run_limits.ts`). The full cache
 * runs as the plain cache, as `runProfile` runs it; `runProfile` warns of a
 * context past the trained one itself.
 */
async function checkProfileContext(
  path: string,
  nCtx: number,
  configs: readonly ProfileConfig[],
  kvTypes: KvTypes,
): Promise<void> {
  const model = await openModel(path);
  try {
    const adapter = await adapterLimits();
    for (const config of configs) {
      const kv = kvCompresses(config.kv) ? config.kv : undefined;
      checkRunLimits({ hparams: model.hparams, nCtx, kv, adapter, kvTypes });
    }
  } finally {
    model.close();
  }
}

async function readText(path: string): Promise<ProfileText> {
  if (isStdinPath(path)) return { name: "stdin", text: await readStdinText("--text from stdin") };
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound ? "no such file" : String(error);
    throw new InputError(`Cannot read --text "${path}": ${why}`, { cause: error });
  }
  return { name: basename(path), text: decodeUtf8(bytes, `--text "${path}"`) };
}

/** An option taking a comma-separated list, its default shown as the list. */
function listOption<T>(
  flags: string,
  description: string,
  parse: (value: string) => T[],
  value: T[],
): Option {
  return new Option(flags, description).argParser(parse).default(value, value.join(","));
}

/** Comma-separated words; each flag given again replaces the list. */
function textList(value: string): string[] {
  const items = value.split(",").map((s) => s.trim());
  if (items.some((s) => s === "")) {
    throw new InvalidArgumentError("expected a comma-separated list without empty entries");
  }
  return items;
}

/** Comma-separated whole numbers ≥ 0. */
function countList(value: string): number[] {
  return textList(value).map((s) => {
    const n = Number(s);
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new InvalidArgumentError(`expected whole numbers ≥ 0 separated by commas, got "${s}"`);
    }
    return n;
  });
}

function batchError(): never {
  throw new InvalidArgumentError("expected batch sizes ≥ 1 separated by commas");
}
