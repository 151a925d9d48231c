/**
 * The GPU forward pass against llama.cpp's recorded outputs for stories260K
 * (`shared/oracle/`): prompt logits, greedy continuations, the F16 and Q8_0
 * variants, and perplexity, all on the real WebGPU adapter.
 */

import assert from "node:assert/strict";
import { createRuntime, type GpuRuntime } from "../../src/gpu/runtime.ts";
import { Session } from "../../src/model/session.ts";
import { perplexity } from "../../src/reference/perplexity.ts";
import { gpuTestOptions, testGpu } from "../_gpu.ts";

const SHARED = new URL("../../../shared/", import.meta.url);
const model = (name: string) => new URL(`models/${name}`, SHARED).pathname;

interface Oracle {
  logits_once_upon_a_time: { prompt_ids: number[]; positions: { pos: number; logits: number[] }[] };
  greedy_once_upon_a_time: { prompt_ids: number[]; generated_ids: number[] };
  greedy_from_bos_only: { prompt_ids: number[]; generated_ids: number[] };
  perplexity: { full_window_first512_f32kv: { mean_nll: number; ppl: number } };
  variants: Record<string, { max_abs_logit_diff_vs_f32_model_prompt_positions: number }>;
}
const oracle: Oracle = JSON.parse(
  await Deno.readTextFile(new URL("oracle/oracle-stories260K.json", SHARED)),
);
/** The oracle's bound for an f32 implementation (its README, "Key figures"). */
const F32_LOGIT_TOLERANCE = 1e-3;

let runtime: GpuRuntime | undefined;
async function open(
  name: string,
  options: { nCtx: number; allLogits?: boolean; maxBatch?: number },
) {
  runtime ??= createRuntime(await testGpu());
  return await Session.open(model(name), { ...options, runtime });
}

async function greedy(session: Session, prompt: number[], n: number): Promise<number[]> {
  const out = [await session.prefill(prompt)];
  while (out.length < n) out.push(await session.decode(out.at(-1)!));
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

Deno.test({
  name: 'GPU logits of the 5 prompt positions of "Once upon a time" match llama.cpp within 1e-3',
  ...gpuTestOptions,
  async fn() {
    const { prompt_ids, positions } = oracle.logits_once_upon_a_time;
    // Batched prompt (mat-mul path) and token by token (mat-vec path) must both agree.
    for (const maxBatch of [128, 1]) {
      const s = await open("stories260K.gguf", { nCtx: 64, allLogits: true, maxBatch });
      try {
        const logits = await s.evaluate(prompt_ids);
        for (const p of positions) {
          const row = logits.subarray(p.pos * 512, (p.pos + 1) * 512);
          const d = maxAbsDiff(row, p.logits);
          assert.ok(d < F32_LOGIT_TOLERANCE, `maxBatch ${maxBatch} position ${p.pos}: ${d}`);
        }
      } finally {
        s.close();
      }
    }
  },
});

Deno.test({
  name: 'GPU greedy decoding reproduces llama.cpp\'s 64 tokens after "Once upon a time"',
  ...gpuTestOptions,
  async fn() {
    const { prompt_ids, generated_ids } = oracle.greedy_once_upon_a_time;
    const s = await open("stories260K.gguf", { nCtx: 128 });
    try {
      assert.deepEqual(s.tokenizer.encode("Once upon a time"), prompt_ids);
      assert.deepEqual(await greedy(s, prompt_ids, 64), generated_ids);
    } finally {
      s.close();
    }
  },
});

Deno.test({
  name: "GPU greedy decoding reproduces llama.cpp's 256 tokens from BOS alone",
  ...gpuTestOptions,
  async fn() {
    const { prompt_ids, generated_ids } = oracle.greedy_from_bos_only;
    const s = await open("stories260K.gguf", { nCtx: 300 });
    try {
      assert.deepEqual(await greedy(s, prompt_ids, 256), generated_ids);
    } finally {
      s.close();
    }
  },
});

Deno.test({
  name: "GPU F16 and Q8_0-mix variants keep llama.cpp's greedy 64 tokens and logit bounds",
  ...gpuTestOptions,
  async fn() {
    const { prompt_ids, generated_ids } = oracle.greedy_once_upon_a_time;
    const { positions } = oracle.logits_once_upon_a_time;
    for (const name of ["stories260K-F16.gguf", "stories260K-Q8_0-mix.gguf"]) {
      const s = await open(name, { nCtx: 128, allLogits: true });
      try {
        const logits = await s.evaluate(prompt_ids);
        // The oracle states how far each variant's logits move from the F32 model's.
        const bound = oracle.variants[name]!.max_abs_logit_diff_vs_f32_model_prompt_positions;
        for (const p of positions) {
          const d = maxAbsDiff(logits.subarray(p.pos * 512, (p.pos + 1) * 512), p.logits);
          assert.ok(d <= bound, `${name} position ${p.pos}: ${d} > ${bound}`);
        }
        s.reset();
        assert.deepEqual(await greedy(s, prompt_ids, 64), generated_ids, name);
      } finally {
        s.close();
      }
    }
  },
});

Deno.test({
  name: "GPU perplexity of the first 512 tokens of ppl-text.txt is llama.cpp's 3.775860",
  ...gpuTestOptions,
  async fn() {
    const s = await open("stories260K.gguf", { nCtx: 512, allLogits: true });
    try {
      const text = await Deno.readTextFile(new URL("oracle/ppl-text.txt", SHARED));
      const tokens = s.tokenizer.encode(text).slice(0, 512);
      assert.equal(tokens.length, 512);
      const result = perplexity(await s.evaluate(tokens), 512, tokens);
      const want = oracle.perplexity.full_window_first512_f32kv;
      assert.equal(result.predictions, 511);
      assert.equal(result.perplexity.toFixed(3), want.ppl.toFixed(3));
      assert.ok(Math.abs(result.meanNll - want.mean_nll) < 1e-5, `${result.meanNll}`);
    } finally {
      s.close();
    }
  },
});
