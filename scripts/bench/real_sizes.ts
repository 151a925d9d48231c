/**
 * `bench --peer --real`: the speed table users read. The full-size shapes of
 * the files people download — Qwen2.5-0.5B whole and Llama-3.2-1B whole
 * (random weights in the Q4_K_M mix, built by `fixtures/real_shapes.ts` into
 * `fixtures/generated/`, never committed) — at pp8, pp64, pp512 and tg32,
 * d2o between llama.cpp's CPU and Vulkan builds round by round in one
 * invocation, with ratios, and what an 8-token prompt costs in decode steps.
 *
 * @module
 */

import { ensureRealShape, FULL_WIDTH_SHAPES, type RealShape } from "../../fixtures/real_shapes.ts";
import type { GpuRuntime } from "../../src/gpu/runtime.ts";
import { loadPercent } from "./machine.ts";
import type { BenchModel } from "./models.ts";
import { closePeers, type PeerBackend, type PeerFigures, peerVersion } from "./peer.ts";
import { peerRow, printFailures } from "./peer_table.ts";

/** One test of the table: a prompt of `pp` tokens, then `tg` decoded tokens; `reads` which figure. */
interface RealSizeTest {
  readonly name: string;
  readonly pp: number;
  readonly tg: number;
  readonly reads: "pp" | "tg";
}

/** The tests, in column order: three prompt lengths and a decode run after a short prompt. */
const TESTS: readonly RealSizeTest[] = [
  { name: "pp8", pp: 8, tg: 1, reads: "pp" },
  { name: "pp64", pp: 64, tg: 1, reads: "pp" },
  { name: "pp512", pp: 512, tg: 1, reads: "pp" },
  { name: "tg32", pp: 8, tg: 32, reads: "tg" },
];

/** Llama 3.2 1B whole: the test suite's 2-layer width shape with all 16 layers. */
const LLAMA_1B: RealShape = {
  ...FULL_WIDTH_SHAPES.find((s) => s.name.startsWith("full-llama-3.2-1b"))!,
  name: "full-llama-3.2-1b-q4_k_m",
  mimics: "Llama 3.2 1B Instruct Q4_K_M",
  nLayer: 16,
};

/**
 * Builds (or finds current) the full-size models.
 *
 * @param vocabDir the real vocabularies (`../shared/vocab/`)
 * @returns the 0.5B and 1B models
 */
export async function realSizeModels(vocabDir: string): Promise<BenchModel[]> {
  const qwen = FULL_WIDTH_SHAPES.find((s) => s.name.startsWith("full-qwen2.5-0.5b"))!;
  return [
    { label: "Qwen2.5-0.5B Q4_K_M", path: await ensureRealShape(qwen, vocabDir) },
    { label: "Llama-3.2-1B Q4_K_M", path: await ensureRealShape(LLAMA_1B, vocabDir) },
  ];
}

/**
 * Prints the real-size table.
 *
 * @param rt runtime d2o runs on
 * @param models the models (from {@linkcode realSizeModels})
 * @param rounds timed rounds per engine and test
 */
export async function runRealSizeTable(
  rt: GpuRuntime,
  models: readonly BenchModel[],
  rounds: number,
): Promise<void> {
  const version = peerVersion();
  if (!version) {
    console.log(
      "bench --peer --real: node-llama-cpp is not installed (bash tests/llama/install.sh)",
    );
    return;
  }
  console.log(`## Real sizes: tokens per second, medians of ${rounds} interleaved rounds`);
  console.log(
    `llama.cpp: ${version}; CPU build with 2 threads; Vulkan build on the same adapter\n`,
  );
  console.log(
    "| model | test | llama.cpp CPU | d2o | llama.cpp Vulkan | d2o ÷ CPU | d2o ÷ Vulkan | other load |",
  );
  console.log("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  const failures = new Map<PeerBackend, string>();
  for (const m of models) {
    const d2o = new Map<string, number>();
    for (const t of TESTS) {
      const row = await peerRow(rt, m, t.pp, t.tg, rounds, failures);
      const value = (f: PeerFigures | undefined) => f?.[t.reads];
      const ours = row.ours[t.reads];
      d2o.set(t.name, ours);
      const times = (theirs: number | undefined) =>
        theirs === undefined ? "—" : `${(ours / theirs).toFixed(2)}×`;
      const figure = (x: number | undefined) => (x === undefined ? "—" : x.toFixed(2));
      console.log(
        `| ${m.label} | ${t.name} | ${figure(value(row.cpu))} | ${figure(ours)} | ${
          figure(value(row.vulkan))
        } | ${times(value(row.cpu))} | ${times(value(row.vulkan))} | ${
          loadPercent(row.load).trim()
        } |`,
      );
    }
    // An 8-token prompt's time in decode steps: (8 / pp8) ÷ (1 / tg32).
    const steps = (8 / d2o.get("pp8")!) * d2o.get("tg32")!;
    console.log(`| ${m.label} | pp8 in decode steps | | ${steps.toFixed(2)} | | | | |`);
    await closePeers();
  }
  printFailures(failures);
}
