/**
 * Before against after: prefill and decode speed of this tree's `Session`
 * and another tree's (a `git worktree` of an older commit), on the same
 * files, interleaved round by round in one process on one GPU device, with
 * medians and ratios. How a refactor shows it costs no speed
 * (`docs/benchmarks.md`).
 *
 * ```sh
 * git worktree add ../d2o-base <commit>
 * deno run -A scripts/bench/ab_session.ts --base ../d2o-base --pp 128 --tg 64 --rounds 3 FILE...
 * ```
 *
 * Both trees' sessions use the f32 KV cache and `-b 128`, so the comparison
 * is of the same work.
 *
 * @module
 */

import { pathToFileURL } from "node:url";
import { resolve } from "node:path";
import { acquireGpu } from "../../src/gpu/device.ts";
import { createRuntime } from "../../src/gpu/runtime.ts";
import { Session } from "../../src/model/session.ts";
import { flagValue, positionals } from "./args.ts";
import { benchPrompt } from "./engine.ts";
import { median } from "./machine.ts";

/** The part of a `Session`, old or new, that a round uses. */
interface TimedSession {
  readonly tokenizer: { readonly bosId: number | undefined };
  reset(): void;
  generate(prompt: number[], nPredict: number): AsyncIterable<unknown>;
  close(): void;
}

/** Opens a session of one tree. */
type Opener = (path: string, nCtx: number) => Promise<TimedSession>;

/** One timed round: the prompt's tokens/s, then the decoded tokens' tokens/s. */
async function round(s: TimedSession, pp: number, tg: number): Promise<[number, number]> {
  s.reset();
  const start = performance.now();
  let first = 0;
  for await (const _ of s.generate(benchPrompt(s.tokenizer.bosId ?? 1, pp), tg + 1)) {
    if (first === 0) first = performance.now();
  }
  return [pp / ((first - start) / 1000), tg / ((performance.now() - first) / 1000)];
}

const args = Deno.args;
const base = resolve(flagValue(args, "--base"));
const pp = Number(flagValue(args, "--pp", "128"));
const tg = Number(flagValue(args, "--tg", "64"));
const rounds = Number(flagValue(args, "--rounds", "3"));
const files = positionals(args, ["--base", "--pp", "--tg", "--rounds"]);

const ctx = await acquireGpu();
const oldSession = await import(pathToFileURL(`${base}/src/model/session.ts`).href);
const oldRuntime = await import(pathToFileURL(`${base}/src/gpu/runtime.ts`).href);
const rtNew = createRuntime(ctx);
const rtOld = oldRuntime.createRuntime(ctx);
const openers: Record<"before" | "after", Opener> = {
  before: (path, nCtx) => oldSession.Session.open(path, { nCtx, maxBatch: 128, runtime: rtOld }),
  after: (path, nCtx) =>
    Session.open(path, {
      nCtx,
      maxBatch: 128,
      runtime: rtNew,
      kvTypes: { k: "f32", v: "f32" },
    }),
};

console.log(`before: ${base}; after: this tree; pp${pp}, tg${tg}, medians of ${rounds} rounds`);
console.log(`load average at start: ${Deno.loadavg()[0]!.toFixed(2)}\n`);
console.log("| file | pp before | pp after | ratio | tg before | tg after | ratio |");
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const path of files) {
  const nCtx = pp + tg + 8;
  const before = await openers.before(path, nCtx);
  const after = await openers.after(path, nCtx);
  await round(before, pp, tg); // untimed: pipeline compilation
  await round(after, pp, tg);
  const figures = { before: [] as [number, number][], after: [] as [number, number][] };
  for (let r = 0; r < rounds; r++) {
    figures.before.push(await round(before, pp, tg));
    figures.after.push(await round(after, pp, tg));
  }
  before.close();
  after.close();
  const m = (side: "before" | "after", i: 0 | 1) => median(figures[side].map((f) => f[i]));
  const cells = [0, 1].flatMap((i) => {
    const [b, a] = [m("before", i as 0 | 1), m("after", i as 0 | 1)];
    return [b.toFixed(2), a.toFixed(2), `${(a / b).toFixed(2)}×`];
  });
  console.log(`| ${path.split("/").pop()} | ${cells.join(" | ")} |`);
}
console.log(`\nload average at end: ${Deno.loadavg()[0]!.toFixed(2)}`);
ctx.device.destroy();
