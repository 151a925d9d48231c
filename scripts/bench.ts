/**
 * `deno task bench`: the figures our speed targets are checked by. Prints the
 * machine and its load, tokenizer throughput, the adapter's own limits
 * (streaming-read GB/s and f32 FMA GFLOP/s, scripts/bench/roofline_ops.ts), the
 * weight kernels at model shapes as shares of those limits, and for
 * stories260K and the 124.7M llama shape (F16, Q8_0, Q4_0, Q4_K_M-style):
 * pp/tg tokens per second, their roofline shares, dispatches and bytes read
 * per decoded token. Benchmarks print figures; they never time tests.
 *
 * Then the decode mat-vec at real widths (896, 2048, 4096, 8192) for Q4_K,
 * Q5_0, Q6_K and Q8_0 as shares of the streaming read (scripts/bench/matvec_widths.ts).
 *
 * Options: `--quick` (small sizes, for a smoke run), `--skip-large`,
 * `--matvec-widths` (only the real-width mat-vec table),
 * `--peer` (llama.cpp CPU and Vulkan beside d2o, interleaved, with ratios; needs
 * `bash tests/llama/install.sh`), `--peer --real` (that table on the full-size
 * Qwen2.5-0.5B and Llama-3.2-1B shapes at pp8, pp64, pp512 and tg32), `--rounds N` (timed rounds, default 3), `--models a,b`
 * (only the models whose label contains one of the words, case-insensitive, e.g. `q8_0,stories`).
 *
 * @module
 */

import { openGguf } from "../src/gguf/reader.ts";
import { acquireGpu } from "../src/gpu/device.ts";
import { createRuntime, type GpuRuntime } from "../src/gpu/runtime.ts";
import { tokenizerFromMetadata } from "../src/tokenizer/mod.ts";
import { flagValue } from "./bench/args.ts";
import { decodeBound } from "./bench/decode_bound.ts";
import { type EngineFigures, runEngine } from "./bench/engine.ts";
import { kernelLabel, timeWeightKernel } from "./bench/kernels.ts";
import { cpuSample, loadPercent, machineLine, median, otherLoad } from "./bench/machine.ts";
import { type BenchModel, LARGE_TYPES, largeModel } from "./bench/models.ts";
import { runPeerTable } from "./bench/peer_table.ts";
import { realSizeModels, runRealSizeTable } from "./bench/real_sizes.ts";
import { benchMatvecWidths } from "./bench/matvec_widths.ts";
import { measureRoofline, type Roofline } from "./bench/roofline.ts";

const args = Deno.args;
const quick = args.includes("--quick");
const skipLarge = args.includes("--skip-large");
const peer = args.includes("--peer");
const real = args.includes("--real");
const widthsOnly = args.includes("--matvec-widths");
const rounds = Number(flagValue(args, "--rounds", quick ? "1" : "3"));
const only = args.includes("--models")
  ? flagValue(args, "--models").toLowerCase().split(",")
  : undefined;
const SHARED = new URL("../../shared/", import.meta.url);

async function exists(url: URL): Promise<boolean> {
  try {
    await Deno.stat(url);
    return true;
  } catch {
    return false;
  }
}

async function benchTokenizer(): Promise<void> {
  console.log("## Tokenizer: encode 1 MiB of English text");
  const text = await Deno.readTextFile(new URL("oracle/ppl-text.txt", SHARED)).catch(() =>
    "Once upon a time, there was a little girl named Lily. She loved to play outside. "
  );
  const mib = text.repeat(Math.ceil((1 << 20) / text.length)).slice(0, 1 << 20);
  for (const name of ["stories260K.gguf", "llama-2-tiny-random.gguf"]) {
    const url = new URL(`models/${name}`, SHARED);
    if (!(await exists(url))) continue;
    const file = await openGguf(url.pathname);
    const tok = tokenizerFromMetadata(file.metadata);
    file.close();
    tok.encode(mib.slice(0, 10000)); // warm up
    const times: number[] = [];
    let n = 0;
    for (let i = 0; i < (quick ? 1 : 3); i++) {
      const t = performance.now();
      n = tok.encode(mib).length;
      times.push(performance.now() - t);
    }
    const ms = median(times);
    console.log(
      `  ${name.padEnd(26)} vocab ${String(tok.size).padStart(6)}  ${ms.toFixed(0)} ms/MiB  ` +
        `${(1000 / ms).toFixed(2)} MiB/s  ${n} tokens`,
    );
  }
}

/** The weight kernels at the 124.7M shapes, as shares of the roofline. */
async function benchKernels(rt: GpuRuntime, roof: Roofline): Promise<void> {
  console.log("\n## Weight kernels at the 124.7M shapes (share of the adapter's limits)");
  const [wide, ff] = quick ? [256, 512] : [768, 2048];
  const tokens = quick ? 32 : 128;
  for (const { type } of LARGE_TYPES) {
    for (const [rows, cols] of [[ff, wide], [wide, ff]] as const) {
      for (const n of [tokens, 1]) {
        const f = await timeWeightKernel(rt, type, rows, cols, n, n === 1 ? 20 : 2);
        const share = n === 1
          ? `${f.gbPerSecond.toFixed(2)} GB/s = ${
            pct(f.gbPerSecond / roof.readGbPerSecond)
          } of read`
          : `${f.gflops.toFixed(1)} GFLOP/s = ${pct(f.gflops / roof.fmaGflops)} of FMA`;
        console.log(
          `  ${kernelLabel(type, rows, cols, n).padEnd(28)} ${
            f.ms.toFixed(2).padStart(7)
          } ms  ${share}`,
        );
      }
    }
  }
}

function pct(share: number): string {
  return `${(100 * share).toFixed(0)}%`;
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** One model's engine figures and what they mean against the limits. */
function printEngine(label: string, f: EngineFigures, roof: Roofline, bound: number): void {
  const ppGflops = (f.flopsPerToken * f.pp) / 1e9;
  const perToken = f.weightBytesPerToken + f.kvBytesPerToken;
  const decodeGbps = (perToken * f.tg) / 1e9;
  console.log(
    `  ${label.padEnd(20)} pp ${f.pp.toFixed(1).padStart(7)} t/s (${
      ppGflops.toFixed(1)
    } GFLOP/s = ${pct(ppGflops / roof.fmaGflops)} of FMA)   tg ${
      f.tg.toFixed(1).padStart(6)
    } t/s (${decodeGbps.toFixed(2)} GB/s = ${pct(decodeGbps / roof.readGbPerSecond)} of read; ${
      pct(f.tg / bound)
    } of the mat-vec bound ${bound.toFixed(1)} t/s)`,
  );
  console.log(
    `  ${"".padEnd(20)} per decoded token: ${f.dispatchesPerToken.toFixed(0)} dispatches, ${
      f.submitsPerToken.toFixed(1)
    } submits; reads ${mib(f.weightBytesPerToken)} weights + ${mib(f.kvBytesPerToken)} KV + ≤ ${
      mib(f.scratchBytes)
    } scratch (uploaded weights ${mib(f.weightBytes)})`,
  );
}

async function benchModels(rt: GpuRuntime, roof: Roofline, models: BenchModel[]): Promise<void> {
  const [pp, tg] = quick ? [32, 8] : [128, 64];
  console.log(`\n## Engine: pp${pp} / tg${tg}, medians of ${rounds} rounds`);
  for (const m of models) {
    const before = cpuSample();
    const f = await runEngine(rt, m.path, pp, tg, rounds);
    const load = otherLoad(before, cpuSample());
    const bound = await decodeBound(rt, m.path);
    printEngine(m.label, f, roof, bound.tokensPerSecond);
    console.log(
      `  ${"".padEnd(20)} other processes took ${
        loadPercent(load)
      } of the CPU during this model's rounds`,
    );
  }
}

/** Whether `--models` (absent: every model) selects the model labelled `label`. */
function selected(label: string): boolean {
  return only === undefined || only.some((word) => label.toLowerCase().includes(word));
}

async function benchModelsList(): Promise<BenchModel[]> {
  const models: BenchModel[] = [];
  const stories = new URL("models/stories260K.gguf", SHARED);
  if (await exists(stories) && selected("stories260K F32")) {
    models.push({ label: "stories260K F32", path: stories.pathname });
  }
  if (!skipLarge) {
    for (const { tag } of LARGE_TYPES.filter((t) => selected(`124.7M ${t.tag}`))) {
      const t = performance.now();
      const m = await largeModel(tag, quick);
      const built = performance.now() - t;
      if (built > 1000) console.log(`  (built ${m.label} in ${(built / 1000).toFixed(1)} s)`);
      models.push(m);
    }
  }
  return models;
}

if (import.meta.main) {
  console.log(`# d2o bench${quick ? " (quick)" : ""}, ${new Date().toISOString()}\n`);
  console.log(`machine: ${machineLine()}\n`);
  const ctx = await acquireGpu();
  const rt = createRuntime(ctx);
  console.log(`adapter: ${ctx.description}${ctx.isFallback ? " (software fallback)" : ""}\n`);
  const models = widthsOnly || real ? [] : await benchModelsList();
  if (widthsOnly) {
    await benchMatvecWidths(rt, quick);
  } else if (peer && real) {
    await runRealSizeTable(rt, await realSizeModels(new URL("vocab/", SHARED).pathname), rounds);
  } else if (peer) {
    await runPeerTable(rt, models, { quick, rounds });
  } else {
    await benchTokenizer();
    const roof = await measureRoofline(rt, quick);
    console.log(
      `\n## Adapter limits: streaming read ${roof.readGbPerSecond.toFixed(2)} GB/s, ` +
        `f32 FMA ${roof.fmaGflops.toFixed(1)} GFLOP/s`,
    );
    if (!skipLarge) await benchKernels(rt, roof);
    await benchMatvecWidths(rt, quick);
    await benchModels(rt, roof, models);
  }
  ctx.device.destroy();
}
