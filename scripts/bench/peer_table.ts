/**
 * `bench --peer`: llama.cpp's CPU and Vulkan builds beside d2o on the same
 * files, in one invocation, interleaved (each d2o round sits between a
 * llama.cpp CPU round and a llama.cpp Vulkan round), as a markdown table of
 * medians with ratios and the other processes' CPU share per model.
 *
 * @module
 */

import type { GpuRuntime } from "../../src/gpu/runtime.ts";
import { openGguf } from "../../src/gguf/reader.ts";
import { tokenizerFromMetadata } from "../../src/tokenizer/mod.ts";
import { benchPrompt, runEngine } from "./engine.ts";
import { cpuSample, loadPercent, median, otherLoad } from "./machine.ts";
import type { BenchModel } from "./models.ts";
import { closePeers, type PeerBackend, type PeerFigures, peerVersion, runPeer } from "./peer.ts";

/** How the peer table runs. */
export interface PeerTableOptions {
  /** Small sizes for a smoke run. */
  readonly quick: boolean;
  /** Timed rounds per engine and model. */
  readonly rounds: number;
}

/** The median of `xs`. */
/** `pp / tg` tokens per second, or a dash for a backend that did not run. */
export function cell(f: PeerFigures | undefined): string {
  return f ? `${f.pp.toFixed(1)} / ${f.tg.toFixed(1)}` : "—";
}

/** d2o's `pp / tg` as multiples of a peer's. */
export function ratio(ours: PeerFigures, theirs: PeerFigures | undefined): string {
  return theirs
    ? `${(ours.pp / theirs.pp).toFixed(2)}× / ${(ours.tg / theirs.tg).toFixed(2)}×`
    : "—";
}

/** Medians of a backend's rounds, or undefined when it failed. */
function medians(runs: PeerFigures[]): PeerFigures | undefined {
  return runs.length
    ? { pp: median(runs.map((r) => r.pp)), tg: median(runs.map((r) => r.tg)) }
    : undefined;
}

/** The model's BOS id (1 when it has none). */
export async function bosOf(path: string): Promise<number> {
  const file = await openGguf(path);
  const bos = tokenizerFromMetadata(file.metadata).bosId ?? 1;
  file.close();
  return bos;
}

/** Runs one peer round, remembering a failure (e.g. no Vulkan device) instead of stopping. */
async function peerRound(
  backend: PeerBackend,
  m: BenchModel,
  prompt: number[],
  tg: number,
  into: PeerFigures[],
  failures: Map<PeerBackend, string>,
): Promise<void> {
  if (failures.has(backend)) return;
  try {
    into.push(await runPeer(backend, m.path, prompt, tg));
  } catch (error) {
    failures.set(backend, error instanceof Error ? error.message.split("\n")[0]! : String(error));
  }
}

/**
 * Prints the side-by-side table for `models`.
 *
 * @param rt runtime d2o runs on
 * @param models the models, in table order
 * @param options sizes and rounds
 */
export async function runPeerTable(
  rt: GpuRuntime,
  models: readonly BenchModel[],
  options: PeerTableOptions,
): Promise<void> {
  const version = peerVersion();
  if (!version) {
    console.log(
      "bench --peer: node-llama-cpp is not installed (run `bash tests/llama/install.sh`)",
    );
    return;
  }
  const [pp, tg] = options.quick ? [32, 8] : [128, 64];
  console.log(
    `## Peers: pp${pp} / tg${tg} tokens per second, medians of ${options.rounds} interleaved rounds`,
  );
  console.log(
    `llama.cpp: ${version}; CPU build with 2 threads; Vulkan build on the same adapter\n`,
  );
  console.log(
    "| model | llama.cpp CPU pp / tg | d2o pp / tg | llama.cpp Vulkan pp / tg | d2o ÷ CPU | d2o ÷ Vulkan | other load |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- |");
  const failures = new Map<PeerBackend, string>();
  for (const m of models) {
    const row = await peerRow(rt, m, pp, tg, options.rounds, failures);
    console.log(
      `| ${m.label} | ${cell(row.cpu)} | ${cell(row.ours)} | ${cell(row.vulkan)} | ${
        ratio(row.ours, row.cpu)
      } | ${ratio(row.ours, row.vulkan)} | ${loadPercent(row.load).trim()} |`,
    );
    await closePeers();
  }
  printFailures(failures);
}

/** One model at one test, every engine: medians of interleaved rounds. */
export interface PeerRow {
  /** llama.cpp's CPU build. */
  readonly cpu: PeerFigures | undefined;
  /** d2o. */
  readonly ours: PeerFigures;
  /** llama.cpp's Vulkan build on the same adapter. */
  readonly vulkan: PeerFigures | undefined;
  /** The other processes' share of the CPU meanwhile. */
  readonly load: number | undefined;
}

/**
 * Runs `pp` prompt tokens then `tg` decoded tokens on d2o and both llama.cpp
 * builds, each d2o round between a CPU round and a Vulkan round (after one
 * untimed run of each peer: loading and shader compilation).
 *
 * @param rt runtime d2o runs on
 * @param m the model
 * @param pp prompt tokens
 * @param tg decoded tokens
 * @param rounds timed rounds
 * @param failures backends that failed (skipped from then on), with why
 */
export async function peerRow(
  rt: GpuRuntime,
  m: BenchModel,
  pp: number,
  tg: number,
  rounds: number,
  failures: Map<PeerBackend, string>,
): Promise<PeerRow> {
  const prompt = benchPrompt(await bosOf(m.path), pp);
  const cpu: PeerFigures[] = [];
  const vulkan: PeerFigures[] = [];
  // The untimed runs load the model and compile the Vulkan build's shaders; a short prompt does it.
  const warm = prompt.slice(0, Math.min(pp, 32));
  await peerRound("cpu", m, warm, Math.min(2, tg), [], failures);
  await peerRound("vulkan", m, warm, Math.min(2, tg), [], failures);
  const before = cpuSample();
  const ours = await runEngine(rt, m.path, pp, tg, rounds, {
    before: () => peerRound("cpu", m, prompt, tg, cpu, failures),
    after: () => peerRound("vulkan", m, prompt, tg, vulkan, failures),
  });
  return { cpu: medians(cpu), ours, vulkan: medians(vulkan), load: otherLoad(before, cpuSample()) };
}

/**
 * Prints why a llama.cpp build did not run, if one did not.
 *
 * @param failures backends that failed, with why
 */
export function printFailures(failures: ReadonlyMap<PeerBackend, string>): void {
  for (const [backend, why] of failures) console.log(`\nllama.cpp ${backend} did not run: ${why}`);
}
