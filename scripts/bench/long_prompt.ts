/**
 * A long prompt on a real size: the prefill rate of the full-size
 * Qwen2.5-0.5B shape (random weights in the Q4_K_M mix, built by
 * `fixtures/real_shapes.ts` into `fixtures/generated/`, never committed) at
 * several prompt lengths under each KV policy asked for, with the rate as a
 * share of the first length's (pp512's), the KV bytes after the prompt and
 * the process's peak RSS; with `--peer`, llama.cpp's CPU and Vulkan builds
 * (tests/llama/, node-llama-cpp 3.21.1) at the same lengths. Each length runs
 * every policy (and peer) once per round, interleaved; the load average is
 * printed beside every figure.
 *
 * `deno run -A --node-modules-dir=manual scripts/bench/long_prompt.ts
 *   [--model PATH] [--kv full,d2o] [--pp 512,2000] [--ctx 4096] [-b 128] [--rounds 1]
 *   [--peer cpu,vulkan] [--chunks]`
 * (`--chunks`: also each chunk's seconds, by depth, from the prompt's progress calls)
 *
 * @module
 */

import { loadavg } from "node:os";
import { ensureRealShape, FULL_WIDTH_SHAPES } from "../../fixtures/real_shapes.ts";
import { resolveKvOptions } from "../../src/kv/options.ts";
import { Session } from "../../src/model/session.ts";
import { flagValue } from "./args.ts";
import { benchPrompt } from "./engine.ts";
import { closePeers, type PeerBackend, peerVersion, runPeer } from "./peer.ts";
import { median } from "./machine.ts";

const args = Deno.args;
const POLICIES = flagValue(args, "--kv", "full,d2o").split(",").filter((p) => p !== "");
const LENGTHS = flagValue(args, "--pp", "512,2000").split(",").map(Number);
const N_CTX = Number(flagValue(args, "--ctx", "4096"));
const BATCH = Number(flagValue(args, "-b", "128"));
const ROUNDS = Number(flagValue(args, "--rounds", "1"));
const PEERS = flagValue(args, "--peer", "").split(",").filter((p) => p !== "") as PeerBackend[];
const CHUNKS = args.includes("--chunks");

/** Peak resident set of this process so far (Linux `VmHWM`), in MiB. */
function peakRssMiB(): number {
  const status = Deno.readTextFileSync("/proc/self/status");
  const kib = Number(/^VmHWM:\s+(\d+)/m.exec(status)?.[1] ?? NaN);
  return kib / 1024;
}

function load(): string {
  return loadavg().map((x) => x.toFixed(1)).join(" ");
}

const qwen = FULL_WIDTH_SHAPES.find((s) => s.name.startsWith("full-qwen2.5-0.5b"))!;
const vocabDir = new URL("../../../shared/vocab/", import.meta.url).pathname;
const path = args.includes("--model")
  ? flagValue(args, "--model")
  : await ensureRealShape(qwen, vocabDir);
console.log(
  `long prompt: ${path}; -c ${N_CTX} -b ${BATCH}; ${ROUNDS} round(s), medians; load at start ${load()}`,
);

/** One engine: a name and a prompt run that returns its milliseconds (and the KV bytes after it). */
interface Engine {
  readonly name: string;
  run(prompt: readonly number[]): Promise<{ ms: number; kvBytes?: number; chunks?: number[] }>;
  close(): Promise<void> | void;
}

const engines: Engine[] = [];
let bos = 1;
for (const kv of POLICIES) {
  const s = await Session.open(path, {
    nCtx: N_CTX,
    maxBatch: BATCH,
    kv: resolveKvOptions({ kv }),
  });
  bos = s.tokenizer.bosId ?? bos;
  // Warm the prompt pipelines (a CPU driver compiles each at its first dispatch).
  for (const n of [8, BATCH + 1]) {
    s.reset();
    await s.prefill(benchPrompt(bos, n));
  }
  engines.push({
    name: `d2o --kv ${kv}`,
    async run(prompt) {
      s.reset();
      const t0 = performance.now();
      // With --chunks: when the prompt's progress first reached each chunk's end.
      const ends: number[] = [];
      const progress = (done: number) => {
        while (done >= Math.min(prompt.length, (ends.length + 1) * BATCH)) {
          ends.push(performance.now() - t0);
          if (ends.length * BATCH >= prompt.length) break;
        }
      };
      await (CHUNKS ? s.prefill(prompt, progress) : s.prefill(prompt));
      const chunks = ends.map((t, i) => t - (ends[i - 1] ?? 0));
      return { ms: performance.now() - t0, kvBytes: s.memory.kvBytes, chunks };
    },
    close: () => s.close(),
  });
}
if (PEERS.length > 0 && !peerVersion()) {
  console.log("llama.cpp: node-llama-cpp is not installed (bash tests/llama/install.sh)");
} else {
  for (const backend of PEERS) {
    // Untimed: loads the model and compiles the build's kernels (at most 32 prompt tokens).
    await runPeer(backend, path, benchPrompt(bos, 32), 1);
    engines.push({
      name: `llama.cpp ${backend}`,
      async run(prompt) {
        const f = await runPeer(backend, path, prompt, 1);
        return { ms: (prompt.length / f.pp) * 1000 };
      },
      close: () => {},
    });
  }
  if (PEERS.length > 0) console.log(`llama.cpp: ${peerVersion()}`);
}

const rates = new Map<string, number>();
for (const pp of LENGTHS) {
  const prompt = benchPrompt(bos, pp);
  const times = new Map<string, number[]>(engines.map((e) => [e.name, []]));
  const kvBytes = new Map<string, number | undefined>();
  const chunks = new Map<string, number[] | undefined>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const e of engines) {
      const r = await e.run(prompt);
      times.get(e.name)!.push(r.ms);
      kvBytes.set(e.name, r.kvBytes);
      chunks.set(e.name, r.chunks);
    }
  }
  for (const e of engines) {
    const ms = median(times.get(e.name)!);
    const rate = pp / (ms / 1000);
    const first = rates.get(e.name) ?? rate;
    rates.set(e.name, first);
    const kv = kvBytes.get(e.name);
    console.log(
      `pp${pp} ${e.name.padEnd(20)} ${(ms / 1000).toFixed(1).padStart(7)} s  ${
        rate.toFixed(2).padStart(7)
      } t/s  ${(rate / first).toFixed(2)}× pp${LENGTHS[0]}'s rate${
        kv === undefined ? "" : `  KV ${(kv / 2 ** 20).toFixed(1)} MiB`
      }  peak RSS ${peakRssMiB().toFixed(0)} MiB  (load ${load()})`,
    );
    const each = chunks.get(e.name);
    if (CHUNKS && each && each.length > 0) {
      const list = each.map((ms, i) => `${i * BATCH}: ${(ms / 1000).toFixed(1)}`).join(", ");
      console.log(`  seconds per ${BATCH}-token chunk by first position: ${list}`);
    }
  }
}
for (const e of engines) await e.close();
await closePeers();
