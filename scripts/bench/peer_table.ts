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
import { cpuSample, loadPercent, otherLoad } from "./machine.ts";
import type { BenchModel } from "./models.ts";
import { closePeers, type PeerBackend, type PeerFigures, peerVersion, runPeer } from "./peer.ts";

/** How the peer table runs. */
export interface PeerTableOptions {
  /** Small sizes for a smoke run. */
  readonly quick: boolean;
  /** Timed rounds per engine and model. */
  readonly rounds: number;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function cell(f: PeerFigures | undefined): string {
  return f ? `${f.pp.toFixed(1)} / ${f.tg.toFixed(1)}` : "—";
}

function ratio(ours: PeerFigures, theirs: PeerFigures | undefined): string {
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

async function bosOf(path: string): Promise<number> {
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
    const prompt = benchPrompt(await bosOf(m.path), pp);
    const cpu: PeerFigures[] = [];
    const vulkan: PeerFigures[] = [];
    // One untimed run each first: loading, and the Vulkan build's shader compilation.
    await peerRound("cpu", m, prompt, 2, [], failures);
    await peerRound("vulkan", m, prompt, 2, [], failures);
    const before = cpuSample();
    const ours = await runEngine(rt, m.path, pp, tg, options.rounds, {
      before: () => peerRound("cpu", m, prompt, tg, cpu, failures),
      after: () => peerRound("vulkan", m, prompt, tg, vulkan, failures),
    });
    const load = otherLoad(before, cpuSample());
    const [c, v] = [medians(cpu), medians(vulkan)];
    console.log(
      `| ${m.label} | ${cell(c)} | ${cell(ours)} | ${cell(v)} | ${ratio(ours, c)} | ${
        ratio(ours, v)
      } | ${loadPercent(load).trim()} |`,
    );
    await closePeers();
  }
  for (const [backend, why] of failures) console.log(`\nllama.cpp ${backend} did not run: ${why}`);
}
