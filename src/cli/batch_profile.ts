/**
 * `profile -b LIST` and `profile --kv-memory SIZE`: the batch decode tests
 * (`src/profile/batch_run.ts`) with the profile's configurations, prompt and
 * generation lengths, repetitions and output formats.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import type { KvTypes } from "../gpu/ops/kv_elem.ts";
import { formatBatchReport } from "../profile/batch_report.ts";
import { runBatchProfile } from "../profile/batch_run.ts";
import type { ProfileConfig } from "../profile/configs.ts";
import type { OutputFormat } from "../profile/report.ts";
import { writeStdout } from "./io.ts";
import { checkpointed, watchInterrupt } from "./interrupt.ts";
import { adapterKvTypes } from "./kv_flags.ts";
import { createProgress } from "./progress.ts";

/** Decode steps timed per dispatch for `--kernels`. */
const KERNEL_STEPS = 4;

/** The profile flags a batch profile reads. */
export interface BatchProfileFlags {
  readonly model: string;
  readonly nPrompt: number[];
  readonly nGen: number[];
  readonly nDepth: number[];
  readonly repetitions: number;
  readonly output: OutputFormat;
  readonly seed: number;
  readonly batch?: number[];
  readonly kvMemory?: number;
  readonly text?: string[];
  readonly kernels?: boolean;
  readonly perLayer?: boolean;
}

/**
 * Runs the batch decode tests and prints their table.
 *
 * @param o the profile flags
 * @param configs the KV configurations
 * @param kvTypes the KV cache types `-ctk`/`-ctv` ask for (the adapter's default for the rest)
 * @throws {UsageError} for flags the batch tests do not take
 */
export async function runBatchProfileCommand(
  o: BatchProfileFlags,
  configs: readonly ProfileConfig[],
  kvTypes: Partial<KvTypes>,
): Promise<void> {
  const gens = o.nGen.filter((n) => n > 0);
  if (gens.length === 0) {
    throw new UsageError(
      "Cannot run -b/--kv-memory without a generation length: give -n N (N > 0)",
    );
  }
  const other = [
    [(o.text ?? []).length > 0, "--text"],
    [o.nDepth.some((d) => d > 0), "-d"],
    [o.perLayer ?? false, "--per-layer"],
  ] as const;
  const clash = other.filter(([given]) => given).map(([, flag]) => flag);
  if (clash.length > 0) {
    throw new UsageError(
      `Cannot use ${clash.join(", ")} with -b/--kv-memory: the batch tests time decode steps ` +
        `after each sequence's -p prompt`,
    );
  }
  const types = (await adapterKvTypes(kvTypes)).types;
  const progress = createProgress("profiling");
  using interrupt = watchInterrupt();
  const report = await runBatchProfile({
    model: o.model,
    configs,
    prompts: o.nPrompt,
    gens,
    batches: o.batch ?? [1],
    kvMemory: o.kvMemory,
    reps: o.repetitions,
    seed: o.seed,
    kernelSteps: o.kernels ? KERNEL_STEPS : 0,
    kvTypes: types,
  }, { onProgress: checkpointed(progress.update, interrupt, "timed runs") })
    .finally(progress.done);
  interrupt.throwIfInterrupted("before writing the report");
  await writeStdout(formatBatchReport(report, o.output, { kernels: o.kernels ?? false }));
}
