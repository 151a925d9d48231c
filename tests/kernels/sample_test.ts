import assert from "node:assert/strict";
import { readBuffer } from "../../src/gpu/buffers.ts";
import { createSample } from "../../src/gpu/ops/sample.ts";
import { applyPenalty, sample } from "../../src/reference/sample.ts";
import { type SamplerParams, samplerParams } from "../../src/sample/params.ts";
import { randomUnit } from "../../src/sample/random.ts";
import { gpuTestOptions } from "../_gpu.ts";
import { stepBuffer } from "./_step.ts";
import { randomValues, readF32, storageOf, testRuntime } from "./_cases.ts";

/**
 * Runs `draws` sampling steps on the GPU in one pass (no penalty, so the logits
 * stay put) and returns the tokens, read from the history ring.
 */
async function gpuDraws(logits: Float32Array, p: SamplerParams, draws: number): Promise<number[]> {
  const r = await testRuntime();
  const params = { ...p, repeatPenalty: 1, repeatLastN: draws };
  const l = storageOf(r.device, logits, "logits");
  const out = storageOf(r.device, new Uint32Array(1), "out");
  const step = stepBuffer(r.device, { pos: 0, nTokens: 1, nKv: 1, seed: p.seed });
  const op = createSample(r, { logits: l, out, nVocab: logits.length, step, params });
  const encoder = r.device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  for (let i = 0; i < draws; i++) op.encode(pass);
  pass.end();
  r.device.queue.submit([encoder.finish()]);
  const history = new Uint32Array(await readBuffer(r.device, op.history, 4 * (1 + draws)));
  const last = new Uint32Array(await readBuffer(r.device, out, 4))[0];
  for (const b of [l, out, step, op.history]) b.destroy();
  assert.equal(history[0], draws);
  assert.equal(last, history[draws]);
  return [...history.subarray(1)];
}

/** The twin's tokens for the same draws (counter = draw index). */
function cpuDraws(logits: Float32Array, p: SamplerParams, draws: number): number[] {
  const tokens: number[] = [];
  for (let i = 0; i < draws; i++) tokens.push(sample(logits, tokens, p));
  return tokens;
}

const configs: Array<[string, Partial<SamplerParams>]> = [
  ["defaults (top-k 40, top-p 0.95, min-p 0.05, temp 0.8)", {}],
  ["temp 1.5, no filters", { temperature: 1.5, topK: 0, topP: 1, minP: 0 }],
  ["top-k 5 only", { temperature: 1, topK: 5, topP: 1, minP: 0 }],
  ["top-p 0.5 only", { temperature: 1, topK: 0, topP: 0.5, minP: 0 }],
  ["min-p 0.2 only", { temperature: 1, topK: 0, topP: 1, minP: 0.2 }],
  ["top-k 1", { topK: 1 }],
  ["temp 0 (greedy)", { temperature: 0 }],
];

// Exact agreement needs u·Σ to stay clear of a cumulative boundary by more than
// the f32 summation error (~1e-6 of Σ for up to ~10^4 kept tokens). With the
// whole 152k vocabulary kept and nearly flat, boundaries are ~7e-6 of Σ apart,
// so there the check is that u falls within the GPU token's CDF interval ± 2e-5.
for (const [n, draws] of [[512, 120], [32000, 12], [151936, 4]] as const) {
  Deno.test({
    name:
      `sample(n=${n}) picks the CPU twin's token for ${draws} draws × ${configs.length} settings`,
    ...gpuTestOptions,
    async fn() {
      for (const [i, [what, given]] of configs.entries()) {
        const logits = randomValues(n + i, n, 2.5);
        const p = samplerParams({ ...given, seed: 1000 * i + n });
        const gpu = await gpuDraws(logits, p, draws);
        if (n > 100000 && p.topK === 0 && p.topP === 1 && p.minP === 0) {
          gpu.forEach((token, c) => assertInCdfInterval(logits, p, c, token, 2e-5));
        } else {
          assert.deepEqual(gpu, cpuDraws(logits, p, draws), what);
        }
      }
    },
  });
}

/** Asserts that draw `counter`'s u lies within `token`'s CDF interval (no filters) ± tol. */
function assertInCdfInterval(
  logits: Float32Array,
  p: SamplerParams,
  counter: number,
  token: number,
  tol: number,
) {
  let m = -Infinity;
  for (const v of logits) m = Math.max(m, v);
  const w = Array.from(
    logits,
    (v) => Math.exp(Math.fround(Math.fround(v - m) * Math.fround(1 / p.temperature))),
  );
  const total = w.reduce((a, b) => a + b, 0);
  let before = 0;
  for (let i = 0; i < token; i++) before += w[i]!;
  const u = randomUnit(p.seed, counter);
  const lo = before / total;
  const hi = (before + w[token]!) / total;
  assert.ok(
    u >= lo - tol && u <= hi + tol,
    `draw ${counter}: u ${u} outside [${lo}, ${hi}] of ${token}`,
  );
}

/** Frequencies of each id among `tokens`. */
function frequencies(tokens: number[], n: number): number[] {
  const f = new Array<number>(n).fill(0);
  for (const t of tokens) f[t]!++;
  return f.map((c) => c / tokens.length);
}

// Four tokens with probabilities 0.1, 0.2, 0.3, 0.4 at temperature 1.
const quarter = Float32Array.from([0.1, 0.2, 0.3, 0.4], Math.log);
const none = { topK: 0, topP: 1, minP: 0, temperature: 1 };
const handChecked: Array<[string, Partial<SamplerParams>, number[]]> = [
  ["temp 1", none, [0.1, 0.2, 0.3, 0.4]],
  ["temp 0.5 squares the odds", { ...none, temperature: 0.5 }, [1 / 30, 4 / 30, 9 / 30, 16 / 30]],
  ["top-k 2 keeps the two largest", { ...none, topK: 2 }, [0, 0, 3 / 7, 4 / 7]],
  ["top-p 0.5 keeps 0.4 and the 0.3 that crosses", { ...none, topP: 0.5 }, [0, 0, 3 / 7, 4 / 7]],
  ["min-p 0.6 keeps p ≥ 0.24", { ...none, minP: 0.6 }, [0, 0, 3 / 7, 4 / 7]],
  ["min-p 0.4 keeps p ≥ 0.16", { ...none, minP: 0.4 }, [0, 2 / 9, 3 / 9, 4 / 9]],
];

// 2000 draws: one standard deviation of a frequency is ≤ 0.0112; allow 4.
const DRAWS = 2000;
const FREQ_TOL = 0.045;

for (const [what, given, want] of handChecked) {
  Deno.test({
    name: `sample(n=4, ${what}) draws the hand-checked distribution on GPU and CPU`,
    ...gpuTestOptions,
    async fn() {
      const p = samplerParams({ ...given, seed: 7 });
      const gpu = await gpuDraws(quarter, p, DRAWS);
      assert.deepEqual(gpu, cpuDraws(quarter, p, DRAWS));
      frequencies(gpu, 4).forEach((f, i) => {
        if (want[i] === 0) assert.equal(f, 0, `id ${i} must never be drawn`);
        else assert.ok(Math.abs(f - want[i]!) < FREQ_TOL, `id ${i}: ${f} vs ${want[i]}`);
      });
    },
  });
}

Deno.test({
  name:
    "dbg_sample(n=6, repeat penalty 2 over the last 4 of 6 tokens) penalises each distinct token once",
  ...gpuTestOptions,
  async fn() {
    const r = await testRuntime();
    const logits = new Float32Array([3, -1, 2, 8, 0.5, -3]);
    const history = [3, 3, 1, 2, 1, 5];
    for (const temperature of [0, 1]) {
      const p = samplerParams({ repeatPenalty: 2, repeatLastN: 4, temperature, seed: 3 });
      const l = storageOf(r.device, logits, "logits");
      const out = storageOf(r.device, new Uint32Array(2), "out");
      const step = stepBuffer(r.device, { pos: 6, nTokens: 1, nKv: 7, seed: p.seed });
      const op = createSample(r, { logits: l, out, nVocab: 6, step, params: p, outIndex: 1 });
      op.setHistory(history);
      const encoder = r.device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      op.encode(pass);
      pass.end();
      r.device.queue.submit([encoder.finish()]);
      // Last 4 tokens 2, 1, 5 (1 twice): 2 → 1, -1 → -2, -3 → -6; 3 is outside the window.
      assert.deepEqual([...await readF32(r.device, l, 6)], [3, -2, 1, 8, 0.5, -6]);
      assert.deepEqual([...await readF32(r.device, l, 6)], [...applyPenalty(logits, history, p)]);
      const token = new Uint32Array(await readBuffer(r.device, out, 8))[1]!;
      assert.equal(token, sample(logits, history, p));
      if (temperature === 0) assert.equal(token, 3);
      const ring = new Uint32Array(await readBuffer(r.device, op.history, 20));
      assert.equal(ring[0], 7);
      assert.equal(ring[1 + (6 % 4)], token);
      for (const b of [l, out, step, op.history]) b.destroy();
    }
  },
});

Deno.test("sample() never keeps NaN logits", () => {
  const p = samplerParams({ temperature: 1, seed: 1 });
  assert.equal(sample(new Float32Array([NaN, -Infinity, NaN]), [], p), 1);
  assert.equal(sample(new Float32Array([NaN, 0.5, NaN, 0.25]), [], samplerParams({ topK: 1 })), 1);
});
