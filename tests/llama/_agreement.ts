/**
 * Measures of agreement between two sources of next-token logits (d2o's GPU
 * path, d2o's CPU twin, llama.cpp's builds): the worst difference of
 * natural-log probabilities as a share of the row's range, and the
 * full-window perplexity. Shared by the differential tests and
 * `agreement_probe.ts`; the differential tests also share their setting
 * (window, context, text, d2o's session, llama.cpp's f32 Vulkan build) and
 * their perplexity and greedy checks.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { KvTypes } from "../../src/gpu/ops/kv_elem.ts";
import { createRuntime, type GpuRuntime } from "../../src/gpu/runtime.ts";
import { Session } from "../../src/model/session.ts";
import { testGpu } from "../_gpu.ts";
import { sharedPath } from "../tokenizer/_shared.ts";
import {
  getLlama,
  llamaArgmaxAfter,
  type LlamaKvType,
  type LlamaModelLike,
  VULKAN_F32_ENV,
} from "./_llama.ts";

/** Prompt tokens the differential tests compare position by position (the perplexity window). */
export const WINDOW = 48;
/** Context size of both sides in the differential tests. */
export const CONTEXT = 128;
/** Prompt tokens a greedy continuation starts after. */
const GREEDY_PROMPT = 16;

/** Test options of the differential tests: sanitizers off, since the device lives across tests. */
export const NATIVE = { sanitizeOps: false, sanitizeResources: false } as const;

/** The text the differential tests compare over (`ppl-text.txt`). */
export function comparisonText(): Promise<string> {
  return Deno.readTextFile(sharedPath("oracle/ppl-text.txt"));
}

let runtime: GpuRuntime | undefined;

/**
 * d2o's session on the model at `path` as the differential tests run it: a
 * `CONTEXT` context, all logits, up to `WINDOW` tokens a batch, greedy
 * sampling and a KV cache of `types` (on one runtime shared by the tests).
 */
export async function comparisonSession(path: string, types: KvTypes): Promise<Session> {
  runtime ??= createRuntime(await testGpu());
  return await Session.open(path, {
    nCtx: CONTEXT,
    allLogits: true,
    maxBatch: WINDOW,
    sampler: { temperature: 0 },
    runtime,
    kvTypes: types,
  });
}

/** The model at `path` in llama.cpp's Vulkan build computing in f32 (`VULKAN_F32_ENV`), all layers on the GPU. */
export async function llamaVulkanF32(path: string): Promise<LlamaModelLike> {
  for (const [name, value] of Object.entries(VULKAN_F32_ENV)) Deno.env.set(name, value);
  const llama = await getLlama("vulkan");
  return await llama.loadModel({ modelPath: path, gpuLayers: "max" });
}

/**
 * Prints d2o's and llama.cpp's perplexities over `ids` (after `label`) and
 * asserts they agree within `bound`, relative to llama.cpp's.
 */
export function assertPerplexityWithin(
  label: string,
  ours: readonly ArrayLike<number>[],
  theirs: readonly ArrayLike<number>[],
  ids: readonly number[],
  bound: number,
): void {
  const a = perplexityOf(ours, ids);
  const b = perplexityOf(theirs, ids);
  console.log(`${label}: perplexity d2o ${a} llama.cpp ${b}`);
  assert.ok(Math.abs(a - b) / b <= bound, `d2o ${a}, llama.cpp ${b}`);
}

/**
 * d2o's greedy continuation of the first 16 of `ids` (`steps` tokens, the
 * session reset first) and what llama.cpp (a `kvType` cache) takes as its
 * argmax after the prompt and after each of those tokens: the two are equal
 * exactly when the continuation is llama.cpp's own.
 */
export async function greedyTokens(
  session: Session,
  model: LlamaModelLike,
  ids: readonly number[],
  steps: number,
  kvType: LlamaKvType,
): Promise<{ got: number[]; want: number[] }> {
  session.reset();
  const prompt = ids.slice(0, GREEDY_PROMPT);
  const got: number[] = [];
  for await (const token of session.generate(prompt, steps)) got.push(token);
  const sequence = [...prompt, ...got.slice(0, -1)];
  const want = await llamaArgmaxAfter(model, sequence, prompt.length, CONTEXT, kvType);
  return { got, want };
}

/** The rows of `(n, nVocab)` logits. */
export function logitRows(logits: Float32Array, nVocab: number): Float32Array[] {
  return Array.from(
    { length: Math.floor(logits.length / nVocab) },
    (_, i) => logits.subarray(i * nVocab, (i + 1) * nVocab),
  );
}

/** Natural-log softmax of one row of logits. */
export function logSoftmax(row: Float32Array): Float64Array {
  let max = -Infinity;
  for (const x of row) max = Math.max(max, x);
  let sum = 0;
  for (const x of row) sum += Math.exp(x - max);
  const lse = max + Math.log(sum);
  return Float64Array.from(row, (x) => x - lse);
}

/** The log-softmax rows of `(n, nVocab)` logits. */
export function logSoftmaxRows(logits: Float32Array, nVocab: number): Float64Array[] {
  return logitRows(logits, nVocab).map(logSoftmax);
}

/**
 * Largest |ours − theirs| over the tokens `theirs` gives a finite value (a
 * non-zero probability), and the range of those values.
 */
export function compareRow(
  ours: ArrayLike<number>,
  theirs: ArrayLike<number>,
): { diff: number; range: number } {
  let diff = 0;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < theirs.length; i++) {
    const t = theirs[i]!;
    if (!Number.isFinite(t)) continue;
    diff = Math.max(diff, Math.abs(ours[i]! - t));
    lo = Math.min(lo, t);
    hi = Math.max(hi, t);
  }
  return { diff, range: hi - lo };
}

/** The worst {@linkcode compareRow} difference over rows, as a share of that row's range. */
export function worstRelative(
  ours: readonly ArrayLike<number>[],
  theirs: readonly ArrayLike<number>[],
): number {
  let worst = 0;
  for (let i = 0; i < theirs.length; i++) {
    const { diff, range } = compareRow(ours[i]!, theirs[i]!);
    worst = Math.max(worst, diff / range);
  }
  return worst;
}

/** exp(mean negative log-likelihood of each next token), from log-probability rows. */
export function perplexityOf(rows: readonly ArrayLike<number>[], ids: readonly number[]): number {
  let nll = 0;
  for (let i = 0; i + 1 < ids.length; i++) nll -= rows[i]![ids[i + 1]!]!;
  return Math.exp(nll / (ids.length - 1));
}
