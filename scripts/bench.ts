/**
 * `deno task bench`: prints the figures our speed targets are checked by —
 * tokenizer throughput, the adapter's mat-vec bandwidth, and prompt (pp) and
 * decode (tg) tokens per second for stories260K and a generated ~100M-parameter
 * llama-shaped model in Q8_0 and Q4_0, with the share of the measured mat-vec
 * bandwidth decode reaches. Benchmarks print figures; they never time tests.
 *
 * Options: `--quick` (small sizes, for a smoke run), `--skip-large`.
 *
 * @module
 */

import { ensureFixture, type FixtureOptions } from "../fixtures/make_fixtures.ts";
import { GgmlType, ggmlTypeName } from "../src/gguf/ggml_type.ts";
import { openGguf } from "../src/gguf/reader.ts";
import { acquireGpu } from "../src/gpu/device.ts";
import { measureMatvecBandwidth } from "../src/gpu/ops/matvec_bandwidth.ts";
import { createRuntime, type GpuRuntime } from "../src/gpu/runtime.ts";
import { Session } from "../src/model/session.ts";
import { tokenizerFromMetadata } from "../src/tokenizer/mod.ts";

const quick = Deno.args.includes("--quick");
const skipLarge = Deno.args.includes("--skip-large");
const SHARED = new URL("../../shared/", import.meta.url);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

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

async function benchBandwidth(rt: GpuRuntime): Promise<Map<GgmlType, number>> {
  console.log("## Mat-vec bandwidth (weight bytes streamed per second)");
  const out = new Map<GgmlType, number>();
  const size = quick ? 1024 : 4096;
  for (const type of [GgmlType.F32, GgmlType.F16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K]) {
    const r = await measureMatvecBandwidth(rt, type, size, size, quick ? 3 : 10);
    out.set(type, r.gbPerSecond);
    console.log(
      `  ${ggmlTypeName(type).padEnd(5)} ${size}x${size}  ${r.msPerMatvec.toFixed(2)} ms  ` +
        `${r.gbPerSecond.toFixed(2)} GB/s${r.timestamps ? " (GPU timestamps)" : " (wall clock)"}`,
    );
  }
  return out;
}

interface EngineFigures {
  pp: number;
  tg: number;
  weightBytes: number;
}

async function benchEngine(
  rt: GpuRuntime,
  label: string,
  path: string,
  pp: number,
  tg: number,
): Promise<EngineFigures> {
  const s = await Session.open(path, { runtime: rt, nCtx: pp + tg + 8, maxBatch: 128 });
  try {
    const prompt = Array.from(
      { length: pp },
      (_, i) => (i === 0 ? (s.tokenizer.bosId ?? 1) : 3 + (i * 7) % 200),
    );
    await s.prefill(prompt.slice(0, 8)); // warm up the pipelines
    s.reset();
    const ppTimes: number[] = [];
    const tgTimes: number[] = [];
    for (let rep = 0; rep < (quick ? 1 : 3); rep++) {
      // The prompt, then tg tokens decoded the way `generate` does (steps run ahead
      // of their read-backs): the first token ends the prompt's time.
      s.reset();
      const t = performance.now();
      let firstToken = 0;
      for await (const _ of s.generate(prompt, tg + 1)) firstToken ||= performance.now();
      ppTimes.push(firstToken - t);
      tgTimes.push(performance.now() - firstToken);
    }
    const f = {
      pp: pp / (median(ppTimes) / 1000),
      tg: tg / (median(tgTimes) / 1000),
      weightBytes: s.memory.weightBytes,
    };
    console.log(
      `  ${label.padEnd(28)} pp${pp} ${f.pp.toFixed(1).padStart(8)} t/s   tg${tg} ${
        f.tg.toFixed(1).padStart(7)
      } t/s   weights ${(f.weightBytes / 2 ** 20).toFixed(1)} MiB`,
    );
    return f;
  } finally {
    s.close();
  }
}

/** A llama-shaped model of about 100M parameters (made here, never committed). */
function largeModel(weightType: GgmlType): FixtureOptions {
  return {
    name: `bench-100m-${ggmlTypeName(weightType).toLowerCase()}`,
    arch: "llama",
    weightType,
    nEmbd: quick ? 256 : 768,
    nLayer: quick ? 2 : 12,
    nHead: quick ? 4 : 12,
    nHeadKv: quick ? 4 : 12,
    nFf: quick ? 512 : 2048,
    nVocab: 8192,
    contextLength: 2048,
    seed: 100,
  };
}

if (import.meta.main) {
  console.log(`# d2o bench${quick ? " (quick)" : ""}\n`);
  await benchTokenizer();
  const ctx = await acquireGpu();
  const rt = createRuntime(ctx);
  console.log(`\nadapter: ${ctx.description}${ctx.isFallback ? " (software fallback)" : ""}\n`);
  const bandwidth = await benchBandwidth(rt);
  console.log("\n## Engine: prompt (pp) and decode (tg) tokens per second");
  const stories = new URL("models/stories260K.gguf", SHARED);
  if (await exists(stories)) await benchEngine(rt, "stories260K (F32)", stories.pathname, 128, 128);
  if (!skipLarge) {
    for (const type of [GgmlType.Q8_0, GgmlType.Q4_0]) {
      const options = largeModel(type);
      const t = performance.now();
      const path = await ensureFixture(options);
      const built = performance.now() - t;
      if (built > 1000) console.log(`  (built ${options.name} in ${(built / 1000).toFixed(1)} s)`);
      const f = await benchEngine(rt, options.name, path, quick ? 32 : 128, quick ? 8 : 32);
      const gbps = (f.weightBytes * f.tg) / 1e9;
      const peak = bandwidth.get(type)!;
      console.log(
        `  ${"".padEnd(28)} decode streams ${gbps.toFixed(2)} GB/s of weights = ` +
          `${((100 * gbps) / peak).toFixed(0)}% of the ${ggmlTypeName(type)} mat-vec bandwidth`,
      );
    }
  }
  ctx.device.destroy();
}
