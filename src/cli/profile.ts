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
import { InputError } from "../errors.ts";
import { KV_POLICY_NAMES } from "../kv/options.ts";
import { profileConfigs } from "../profile/configs.ts";
import { formatReport, OUTPUT_FORMATS, type OutputFormat } from "../profile/report.ts";
import { type ProfileText, runProfile } from "../profile/run.ts";
import { speedTests } from "../profile/test_name.ts";
import { writeStdout } from "./io.ts";
import { collect, integerIn } from "./options.ts";
import { createProgress } from "./progress.ts";

/** Decode tokens timed with GPU timestamps per generation test. */
const KERNEL_STEPS = 8;

interface ProfileOptions {
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
  kvMin?: string;
  recentRatio?: string;
  sinks?: string;
  d2oBeta?: string;
  mergeRule?: string;
  mergeSelfLogit?: string;
  d2oStat?: string;
  skipLayers?: string;
  parity?: boolean;
}

/**
 * Builds the `profile` subcommand.
 *
 * @example The full cache and d2o at 20%, prompt 128, 64 generated tokens, as markdown
 * ```ts ignore
 * import { profileCommand } from "./profile.ts";
 * await profileCommand().parseAsync(
 *   ["-m", "stories260K.gguf", "--kv", "full,d2o", "-p", "128", "-n", "64", "-o", "md"],
 *   { from: "user" },
 * );
 * ```
 *
 * @returns the command
 */
export function profileCommand(): Command {
  return new Command("profile")
    .description("measure speed, memory and quality of KV-cache policies side by side")
    .requiredOption("-m, --model <path>", "path to a .gguf model")
    .option("--kv <list>", `policies: ${KV_POLICY_NAMES.join(",")}`, textList, [
      ...KV_POLICY_NAMES,
    ])
    .option(
      "--kv-budget <list>",
      "budgets: fractions of the prompt (0 < x ≤ 1) or token counts",
      textList,
      ["0.2"],
    )
    .option("-p, --n-prompt <list>", "prompt lengths (pp tests; 0 = none)", countList, [512])
    .option("-n, --n-gen <list>", "generation lengths (tg tests; 0 = none)", countList, [128])
    .option("-d, --n-depth <list>", "tokens already in the cache before a test", countList, [0])
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
    .option(
      "--ablate",
      "add d2o ablation rows (−merge, −alloc −merge, β=1, merge=code, stat=raw, parity)",
    )
    .option("--kv-min <n>", "floor of a layer budget in tokens (default 128)")
    .option("--recent-ratio <x>", "share of a budget that is the recent window")
    .option("--sinks <n>", "attention-sink tokens always kept")
    .option("--d2o-beta <x>", "EMA weight of the d2o merge threshold (default 0.7)")
    .option("--merge-rule <rule>", "d2o merge weights: paper or code")
    .option("--merge-self-logit <x>", "logit of the merge target's own weight (default 1)")
    .option("--d2o-stat <mode>", "d2o layer statistic: head-minmax or raw")
    .option("--skip-layers <list>", "layers kept full, e.g. 0,1,4")
    .option("--parity", "the d2o reference code's choices")
    .action(async (options: ProfileOptions) => {
      await runProfileCommand(options);
    });
}

async function runProfileCommand(o: ProfileOptions): Promise<void> {
  const configs = profileConfigs(o.kv, o.kvBudget, {
    kvMin: o.kvMin,
    recentRatio: o.recentRatio,
    sinks: o.sinks,
    d2oBeta: o.d2oBeta,
    mergeRule: o.mergeRule,
    mergeSelfLogit: o.mergeSelfLogit,
    d2oStat: o.d2oStat,
    skipLayers: o.skipLayers,
    parity: o.parity,
  }, { ablate: o.ablate ?? false });
  const texts = await Promise.all((o.text ?? []).map(readText));
  const progress = createProgress("profiling");
  const report = await runProfile({
    model: o.model,
    configs,
    tests: speedTests(o.nPrompt, o.nGen, o.nDepth),
    reps: o.repetitions,
    texts,
    prefix: o.prefix,
    nCtx: o.ctx,
    seed: o.seed,
    kernelSteps: KERNEL_STEPS,
  }, {
    onProgress: progress.update,
    onWarning: (message) => {
      progress.done();
      console.error(`d2o: warning: ${message}`);
    },
  }).finally(progress.done);
  await writeStdout(formatReport(report, o.output, {
    perLayer: o.perLayer ?? false,
    kernels: o.kernels ?? false,
  }));
}

async function readText(path: string): Promise<ProfileText> {
  try {
    return { name: basename(path), text: await Deno.readTextFile(path) };
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound ? "no such file" : String(error);
    throw new InputError(`Cannot read --text "${path}": ${why}`, { cause: error });
  }
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
