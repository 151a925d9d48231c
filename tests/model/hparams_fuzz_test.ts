/**
 * Hostile hyper-parameters: each case changes one metadata value of a small
 * valid model and runs `d2o generate` on it in a child process. Every case must
 * be refused as a bad file (exit 3) or an unsupported one (exit 4) within 2 s
 * of the child's CPU time (the figure a busy machine does not inflate; wall
 * time is held to 10 s against hangs), with the child's peak RSS under
 * 500 MB — never a crash, a hang or a runaway allocation sized by the corrupt
 * value.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { buildFixtureSpec, STANDARD_FIXTURES } from "../../fixtures/make_fixtures.ts";
import { GgmlType } from "../../src/gguf/ggml_type.ts";
import { type GgufSpec, writeGguf } from "../../src/gguf/writer.ts";
import { type GgufEntry, GgufValueType } from "../../src/gguf/types.ts";

const CHILD = new URL("./_rss_child.ts", import.meta.url).pathname;
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;
const CPU_LIMIT_MS = 2000;
const WALL_LIMIT_MS = 10_000;
const RSS_LIMIT_BYTES = 500 * 2 ** 20;

const base = STANDARD_FIXTURES.find((f) => f.weightType === GgmlType.F32 && f.arch === "llama")!;

type Case = readonly [key: string, type: GgufValueType, values: readonly number[]];
const U32 = GgufValueType.U32;
const F32 = GgufValueType.F32;
const HUGE = [2 ** 31, 1e7, 2 ** 32 - 1];
const CASES: readonly Case[] = [
  ["llama.block_count", U32, [0, 3, ...HUGE]],
  ["llama.block_count", GgufValueType.I32, [-1, -(2 ** 31)]],
  ["llama.block_count", GgufValueType.U64, [2 ** 53 - 1]],
  ["llama.context_length", U32, [0, 2 ** 31, 2 ** 32 - 1]],
  ["llama.embedding_length", U32, [0, 7, ...HUGE]],
  ["llama.feed_forward_length", U32, [0, 7, ...HUGE]],
  ["llama.attention.head_count", U32, [0, 3, ...HUGE]],
  ["llama.attention.head_count_kv", U32, [0, 3, ...HUGE]],
  ["llama.attention.key_length", U32, [0, 7, ...HUGE]],
  ["llama.attention.value_length", U32, [0, ...HUGE]],
  ["llama.rope.dimension_count", U32, [0, 3, ...HUGE]],
  ["llama.vocab_size", U32, [0, 5, ...HUGE]],
  ["llama.expert_count", U32, [8, ...HUGE]],
  ["llama.rope.freq_base", F32, [0, -1, NaN, Infinity]],
  ["llama.attention.layer_norm_rms_epsilon", F32, [0, -1, NaN, Infinity]],
  ["llama.rope.scaling.factor", F32, [-1, NaN, Infinity]],
];

/** The base fixture with `key` set to `value` (added when absent). */
function mutated(key: string, type: GgufValueType, value: number): GgufSpec {
  const spec = buildFixtureSpec(base);
  const entry = { type, value: type === GgufValueType.U64 ? BigInt(value) : value } as GgufEntry;
  const metadata = spec.metadata.filter(([k]) => k !== key);
  metadata.push([key, entry]);
  return { ...spec, metadata };
}

/** Peak RSS of a running process so far (VmHWM), in bytes; 0 once it is gone. */
function peakRss(pid: number): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const kb = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
    return kb === undefined ? 0 : Number(kb) * 1024;
  } catch {
    return 0;
  }
}

/**
 * Runs `d2o generate` on `file`, killing it past 2× the wall limit; returns the
 * exit code, the wall and CPU times, the peak RSS (the child's own VmHWM at
 * exit, or the largest polled while it ran when it did not get that far) and stderr.
 */
async function runGuarded(file: string) {
  const rssFile = `${file}.rss`;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--config",
      CONFIG,
      // All permissions only so the child may read its own /proc status (its peak RSS).
      "--allow-all",
      CHILD,
      "generate",
      "-m",
      file,
      "-n",
      "1",
      "--temp",
      "0",
      "Once",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", D2O_RSS_FILE: rssFile },
  }).spawn();
  const start = performance.now();
  let polled = 0;
  const poll = setInterval(() => {
    polled = Math.max(polled, peakRss(child.pid));
    if (performance.now() - start > 2 * WALL_LIMIT_MS) child.kill("SIGKILL");
  }, 5);
  const out = await child.output().finally(() => clearInterval(poll));
  const ms = performance.now() - start;
  const [rssKb, cpuMs] = (await Deno.readTextFile(rssFile).catch(() => "0 NaN")).split(" ");
  await Deno.remove(rssFile).catch(() => {});
  return {
    code: out.code,
    ms,
    cpuMs: Number(cpuMs),
    rss: Math.max(Number(rssKb) * 1024, polled),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("hostile hyper-parameters exit 3 or 4 within 2 s and 500 MB RSS", async () => {
  const dir = await Deno.makeTempDir({ prefix: "d2o-hparams-fuzz-" });
  let slowest = 0;
  let mostCpu = 0;
  let largest = 0;
  let runs = 0;
  try {
    for (const [key, type, values] of CASES) {
      for (const value of values) {
        const file = join(dir, "model.gguf");
        await writeGguf(file, mutated(key, type, value));
        const r = await runGuarded(file);
        const what = `${key} = ${value}: exit ${r.code} in ${r.ms.toFixed(0)} ms ` +
          `(CPU ${r.cpuMs} ms), ` +
          `RSS ${(r.rss / 2 ** 20).toFixed(0)} MB\n${r.stderr}`;
        assert.ok(r.code === 3 || r.code === 4, what);
        assert.ok(r.cpuMs < CPU_LIMIT_MS, what);
        assert.ok(r.ms < WALL_LIMIT_MS, what);
        assert.ok(r.rss > 0 && r.rss < RSS_LIMIT_BYTES, what);
        const lines = r.stderr.trim().split("\n");
        assert.equal(lines.length, 1, what);
        assert.match(lines[0]!, /^d2o: Cannot load /, what);
        slowest = Math.max(slowest, r.ms);
        mostCpu = Math.max(mostCpu, r.cpuMs);
        largest = Math.max(largest, r.rss);
        runs++;
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  console.log(
    `${runs} hostile files: slowest ${
      slowest.toFixed(0)
    } ms (most CPU ${mostCpu} ms), largest RSS ` +
      `${(largest / 2 ** 20).toFixed(0)} MB`,
  );
});

Deno.test("a model with no blocks is refused, not run", async () => {
  const dir = await Deno.makeTempDir({ prefix: "d2o-hparams-fuzz-" });
  try {
    const file = join(dir, "empty.gguf");
    await writeGguf(file, buildFixtureSpec({ ...base, nLayer: 0 }));
    const r = await runGuarded(file);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /block_count" is 0: a model needs at least one block/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
