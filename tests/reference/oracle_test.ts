/**
 * The reference forward pass against llama.cpp's recorded outputs for
 * stories260K (`shared/oracle/`, see its README): logits, greedy text,
 * perplexity, layer-0 intermediates, the F16 and Q8_0-mix variants and the
 * random Llama-2-vocabulary model.
 */

import assert from "node:assert/strict";
import { openModel } from "../../src/model/model_file.ts";
import { argmax } from "../../src/reference/argmax.ts";
import { ReferenceModel } from "../../src/reference/forward.ts";
import { loadReferenceWeights, type ReferenceWeights } from "../../src/reference/model_weights.ts";
import { perplexity } from "../../src/reference/perplexity.ts";
import { type Tokenizer, tokenizerFromMetadata } from "../../src/tokenizer/mod.ts";

const SHARED = new URL("../../../shared/", import.meta.url);
const MODELS = new URL("models/", SHARED);
const ORACLE = new URL("oracle/", SHARED);

interface TopLogit {
  id: number;
  logit: number;
}
interface Oracle {
  logits_once_upon_a_time: {
    prompt_ids: number[];
    max_abs_diff_vs_float64_numpy_reference: number;
    positions: { pos: number; logits: number[] }[];
  };
  greedy_once_upon_a_time: { prompt_ids: number[]; generated_ids: number[] };
  greedy_from_bos_only: { prompt_ids: number[]; generated_ids: number[] };
  perplexity: { full_window_first512_f32kv: { mean_nll: number; ppl: number } };
  variants: Record<string, {
    greedy_64_same_as_f32: boolean;
    max_abs_logit_diff_vs_f32_model_prompt_positions: number;
    top10_pos0: TopLogit[];
    top10_pos4: TopLogit[];
  }>;
  random_model: { prompt_ids: number[]; top10_last_prompt_position_f32kv: TopLogit[] };
}
interface LayerTensor {
  name: string;
  op: string;
  data: number[];
}

const oracle: Oracle = JSON.parse(
  await Deno.readTextFile(new URL("oracle-stories260K.json", ORACLE)),
);
const PROMPT = oracle.logits_once_upon_a_time.prompt_ids;
const N_VOCAB = 512;
/** The oracle's own bound for an f32 implementation (README "Key figures"). */
const F32_LOGIT_TOLERANCE = 1e-3;

const loaded = new Map<string, Promise<{ weights: ReferenceWeights; tokenizer: Tokenizer }>>();
function load(file: string): Promise<{ weights: ReferenceWeights; tokenizer: Tokenizer }> {
  let entry = loaded.get(file);
  if (!entry) {
    entry = (async () => {
      const model = await openModel(new URL(file, MODELS).pathname);
      try {
        const tokenizer = tokenizerFromMetadata(model.gguf.metadata);
        return { weights: await loadReferenceWeights(model), tokenizer };
      } finally {
        model.close();
      }
    })();
    loaded.set(file, entry);
  }
  return entry;
}

/** Greedy decoding: `n` tokens after `prompt`, one forward call per generated token. */
function greedy(weights: ReferenceWeights, prompt: number[], n: number): number[] {
  const model = new ReferenceModel(weights, { nCtx: prompt.length + n });
  let logits = model.forward(prompt, 0);
  const out: number[] = [];
  for (let pos = prompt.length; out.length < n; pos++) {
    out.push(argmax(logits));
    if (out.length < n) logits = model.forward([out.at(-1)!], pos);
  }
  return out;
}

/** Logits at every prompt position: (5, n_vocab). */
async function promptLogits(file: string): Promise<Float32Array> {
  const { weights } = await load(file);
  return new ReferenceModel(weights, { nCtx: PROMPT.length }).forward(PROMPT, 0, {
    allLogits: true,
  });
}

/** Largest |ours − recorded| over the 5 × 512 recorded F32 logits. */
function maxDiffVsF32Oracle(logits: Float32Array): number {
  let max = 0;
  for (const { pos, logits: expected } of oracle.logits_once_upon_a_time.positions) {
    expected.forEach((v, i) => max = Math.max(max, Math.abs(v - logits[pos * N_VOCAB + i]!)));
  }
  return max;
}

Deno.test("stories260K: logits at the 5 prompt positions are within 1e-3 of llama.cpp", async () => {
  const logits = await promptLogits("stories260K.gguf");
  assert.equal(oracle.logits_once_upon_a_time.positions.length, 5);
  assert.deepEqual(PROMPT, [1, 403, 407, 261, 378]);
  const diff = maxDiffVsF32Oracle(logits);
  assert.ok(diff < F32_LOGIT_TOLERANCE, `max abs logit difference ${diff}`);
});

Deno.test("stories260K: layer-0 intermediates, layer outputs and logits match llama.cpp's graph", async () => {
  const { tensors } = JSON.parse(
    await Deno.readTextFile(new URL("oracle-stories260K-layer0-tensors.json", ORACLE)),
  ) as { tensors: LayerTensor[] };
  const { weights } = await load("stories260K.gguf");
  const ours = new Map<string, Float32Array>();
  new ReferenceModel(weights, { nCtx: PROMPT.length }).forward(PROMPT, 0, {
    allLogits: true,
    onTensor: (name, data) => ours.set(name, data),
  });
  // Our graph reports Qcur/Kcur after RoPE only, and no separate unweighted norm.
  const skipped = new Set(["RESHAPE", "TRANSPOSE", "PERMUTE", "RMS_NORM", "SILU", "SOFT_MAX"]);
  const compared: string[] = [];
  for (const t of tensors) {
    if (skipped.has(t.op) || t.name === "kq-0" || t.name === "kqv-0") continue;
    if (t.op === "MUL_MAT" && (t.name === "Qcur-0" || t.name === "Kcur-0")) continue;
    const mine = ours.get(t.name);
    assert.ok(mine, `tensor "${t.name}" (${t.op}) has no counterpart`);
    assert.equal(mine.length, t.data.length, t.name);
    let diff = 0;
    let scale = 1;
    t.data.forEach((v, i) => {
      diff = Math.max(diff, Math.abs(v - mine[i]!));
      scale = Math.max(scale, Math.abs(v));
    });
    // f32 sums in another order: relative error of order 1e-6 of the tensor's scale.
    assert.ok(diff <= 1e-5 * scale, `${t.name}: max abs difference ${diff} at scale ${scale}`);
    compared.push(t.name);
  }
  assert.ok(compared.includes("Qcur-0") && compared.includes("l_out-4"));
  assert.equal(compared.length, 20);
});

Deno.test('stories260K: greedy 64 tokens after "Once upon a time" equal llama.cpp\'s', async () => {
  const { weights, tokenizer } = await load("stories260K.gguf");
  const { prompt_ids, generated_ids } = oracle.greedy_once_upon_a_time;
  assert.deepEqual(tokenizer.encode("Once upon a time"), prompt_ids);
  assert.deepEqual(greedy(weights, prompt_ids, 64), generated_ids);
});

Deno.test("stories260K: greedy 256 tokens from BOS alone equal llama.cpp's", async () => {
  const { weights } = await load("stories260K.gguf");
  const { prompt_ids, generated_ids } = oracle.greedy_from_bos_only;
  assert.equal(generated_ids.length, 256);
  assert.deepEqual(greedy(weights, prompt_ids, 256), generated_ids);
});

Deno.test("stories260K: perplexity of the first 512 tokens of ppl-text.txt is 3.775860", async () => {
  const { weights, tokenizer } = await load("stories260K.gguf");
  const text = await Deno.readTextFile(new URL("ppl-text.txt", ORACLE));
  const tokens = tokenizer.encode(text).slice(0, 512);
  assert.equal(tokens[0], 1);
  const model = new ReferenceModel(weights, { nCtx: 512 });
  const logits = model.forward(tokens, 0, { allLogits: true });
  const result = perplexity(logits, N_VOCAB, tokens);
  const expected = oracle.perplexity.full_window_first512_f32kv;
  assert.equal(result.predictions, 511);
  assert.equal(result.perplexity.toFixed(3), expected.ppl.toFixed(3));
  assert.ok(Math.abs(result.meanNll - expected.mean_nll) < 1e-5, `mean NLL ${result.meanNll}`);
});

for (const file of ["stories260K-F16.gguf", "stories260K-Q8_0-mix.gguf"]) {
  const variant = oracle.variants[file]!;
  // The oracle's stated F16/Q8_0-mix vs F32 difference already includes llama.cpp's
  // rounding of activations; dequantizing weights to f32 differs from F32 by less.
  const bound = variant.max_abs_logit_diff_vs_f32_model_prompt_positions;

  Deno.test(`${file}: greedy 64 tokens after "Once upon a time" equal llama.cpp's`, async () => {
    const { weights } = await load(file);
    assert.equal(variant.greedy_64_same_as_f32, true);
    const { prompt_ids, generated_ids } = oracle.greedy_once_upon_a_time;
    assert.deepEqual(greedy(weights, prompt_ids, 64), generated_ids);
  });

  Deno.test(`${file}: prompt logits stay within the oracle's stated difference (${bound.toFixed(3)})`, async () => {
    const logits = await promptLogits(file);
    const diff = maxDiffVsF32Oracle(logits);
    assert.ok(diff <= bound, `max abs difference from the F32 logits ${diff}`);
    for (const [pos, top] of [[0, variant.top10_pos0], [4, variant.top10_pos4]] as const) {
      assert.equal(argmax(logits.subarray(pos * N_VOCAB, (pos + 1) * N_VOCAB)), top[0]!.id);
      for (const { id, logit } of top) {
        const ours = logits[pos * N_VOCAB + id]!;
        assert.ok(
          Math.abs(ours - logit) <= bound,
          `position ${pos} token ${id}: ${ours} vs ${logit}`,
        );
      }
    }
  });
}

Deno.test("llama-2-tiny-random: top-10 logits of the last prompt position are within 1e-3 of llama.cpp", async () => {
  const { weights, tokenizer } = await load("llama-2-tiny-random.gguf");
  const { prompt_ids, top10_last_prompt_position_f32kv: top } = oracle.random_model;
  assert.deepEqual(tokenizer.encode("Once upon a time"), prompt_ids);
  const logits = new ReferenceModel(weights, { nCtx: prompt_ids.length }).forward(prompt_ids, 0);
  assert.equal(logits.length, 32000);
  for (const { id, logit } of top) {
    assert.ok(Math.abs(logits[id]! - logit) < F32_LOGIT_TOLERANCE, `token ${id}: ${logits[id]}`);
  }
  assert.equal(argmax(logits), top[0]!.id);
});
