import assert from "node:assert/strict";
import { ensureFixtures } from "../../fixtures/make_fixtures.ts";
import { LimitError } from "../../src/errors.ts";
import { dequantize } from "../../src/gguf/dequantize.ts";
import { openModel } from "../../src/model/model_file.ts";
import { ReferenceModel } from "../../src/reference/forward.ts";
import { loadReferenceWeights, type ReferenceWeights } from "../../src/reference/model_weights.ts";
import { SMALL_HPARAMS, syntheticWeights } from "./_synthetic_weights.ts";

const STORIES = new URL("../../../shared/models/stories260K.gguf", import.meta.url).pathname;

async function storiesWeights(): Promise<ReferenceWeights> {
  const model = await openModel(STORIES);
  try {
    return await loadReferenceWeights(model);
  } finally {
    model.close();
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

/** Every tensor one forward call reports, by name. */
function capture(model: ReferenceModel, tokens: number[], pos0 = 0): Map<string, Float32Array> {
  const seen = new Map<string, Float32Array>();
  model.forward(tokens, pos0, { onTensor: (name, data) => seen.set(name, data) });
  return seen;
}

const PROMPT = [1, 403, 407, 261, 378];

Deno.test("ReferenceModel.forward() gives the same logits for a prompt at once and token by token", async () => {
  const weights = await storiesWeights();
  const all = new ReferenceModel(weights, { nCtx: 16 }).forward(PROMPT, 0, { allLogits: true });
  assert.equal(all.length, PROMPT.length * 512);
  const stepwise = new ReferenceModel(weights, { nCtx: 16 });
  for (let t = 0; t < PROMPT.length; t++) {
    const logits = stepwise.forward([PROMPT[t]!], t);
    assert.equal(logits.length, 512);
    assert.ok(maxAbsDiff(logits, all.subarray(t * 512, (t + 1) * 512)) < 1e-4, `position ${t}`);
  }
  const mixed = new ReferenceModel(weights, { nCtx: 16 });
  mixed.forward(PROMPT.slice(0, 3), 0);
  const last = mixed.forward(PROMPT.slice(3), 3);
  assert.ok(maxAbsDiff(last, all.subarray(4 * 512)) < 1e-4);
});

Deno.test("ReferenceModel.forward() reports tensors in the fixed step order", () => {
  const hp = { ...SMALL_HPARAMS, nLayer: 1 };
  const names: string[] = [];
  new ReferenceModel(syntheticWeights(hp)).forward([3, 4], 0, {
    onTensor: (name) => names.push(name),
  });
  assert.deepEqual(names, [
    "inp_embd",
    "attn_norm-0",
    "Qcur-0",
    "Kcur-0",
    "Vcur-0",
    "kqv_merged_cont-0",
    "kqv_out-0",
    "ffn_inp-0",
    "ffn_norm-0",
    "ffn_gate-0",
    "ffn_up-0",
    "ffn_gate_par-0",
    "ffn_out-0",
    "l_out-0",
    "result_norm",
    "result_output",
  ]);
});

Deno.test("ReferenceModel.forward() adds the Q/K/V biases of a qwen2 model", () => {
  const hp = {
    ...SMALL_HPARAMS,
    arch: "qwen2" as const,
    ropeStyle: "neox" as const,
    hasQkvBias: true,
  };
  const biased = syntheticWeights(hp);
  const layer0 = biased.layers[0]!;
  const { bq: _q, bk: _k, bv: _v, ...plainLayer0 } = layer0;
  const plain: ReferenceWeights = {
    ...biased,
    hparams: { ...hp, hasQkvBias: false },
    layers: [plainLayer0, ...biased.layers.slice(1)],
  };
  const tokens = [5, 9, 2];
  const withBias = capture(new ReferenceModel(biased), tokens);
  const without = capture(new ReferenceModel(plain), tokens);
  const vb = withBias.get("Vcur-0")!;
  const v = without.get("Vcur-0")!;
  const bv = layer0.bv!;
  for (let i = 0; i < v.length; i++) {
    assert.ok(Math.abs(vb[i]! - v[i]! - bv[i % bv.length]!) < 1e-5, `Vcur-0[${i}]`);
  }
  assert.ok(maxAbsDiff(withBias.get("Qcur-0")!, without.get("Qcur-0")!) > 0.1);
  assert.ok(maxAbsDiff(withBias.get("Kcur-0")!, without.get("Kcur-0")!) > 0.1);
});

Deno.test("ReferenceModel.forward() computes tied logits with the token embedding", () => {
  const hp = { ...SMALL_HPARAMS, tiedEmbeddings: true };
  const weights = syntheticWeights(hp);
  const seen = capture(new ReferenceModel(weights), [7, 8, 9]);
  const xn = seen.get("result_norm")!;
  const logits = seen.get("result_output")!;
  const table = dequantize(weights.tokenEmbd.type, weights.tokenEmbd.bytes, hp.nVocab * hp.nEmbd);
  for (let v = 0; v < hp.nVocab; v++) {
    let dot = 0;
    for (let i = 0; i < hp.nEmbd; i++) dot += table[v * hp.nEmbd + i]! * xn[i]!;
    assert.ok(Math.abs(logits[v]! - dot) < 1e-4, `logit ${v}`);
  }
});

Deno.test("ReferenceModel.forward() divides RoPE angles by the linear scaling factor and rope_freqs", () => {
  const scaled = { ...SMALL_HPARAMS, ropeScaling: { type: "linear" as const, factor: 2 } };
  // Layer-0 queries depend on the token only, so token 6 at position 2 scaled by 2
  // must be rotated exactly like token 6 at position 1 unscaled.
  const qScaled = capture(new ReferenceModel(syntheticWeights(scaled)), [3, 4, 6]).get("Qcur-0")!;
  const qPlain = capture(new ReferenceModel(syntheticWeights(SMALL_HPARAMS)), [3, 6]).get(
    "Qcur-0",
  )!;
  const width = SMALL_HPARAMS.nHead * SMALL_HPARAMS.headDim;
  assert.ok(maxAbsDiff(qScaled.subarray(2 * width), qPlain.subarray(width)) < 1e-5);
  assert.ok(maxAbsDiff(qScaled.subarray(2 * width), qPlain.subarray(0, width)) > 1e-3);
  const divisors = new Float32Array(SMALL_HPARAMS.ropeDim / 2).fill(2);
  const withFreqs = syntheticWeights({ ...SMALL_HPARAMS, hasRopeFreqs: true }, {
    ropeFreqs: divisors,
  });
  const a = new ReferenceModel(withFreqs).forward([3, 4, 6], 0, { allLogits: true });
  const b = new ReferenceModel(syntheticWeights(scaled)).forward([3, 4, 6], 0, { allLogits: true });
  assert.ok(maxAbsDiff(a, b) < 1e-6);
});

Deno.test("ReferenceModel.forward() rejects tokens past the cache and ids outside the vocabulary", () => {
  const model = new ReferenceModel(syntheticWeights(SMALL_HPARAMS), { nCtx: 4 });
  assert.throws(
    () => model.forward([1, 2, 3], 2),
    (e: unknown) =>
      e instanceof LimitError &&
      e.message === "Cannot run tokens at positions 2 to 4: the KV cache holds 4",
  );
  assert.throws(
    () => model.forward([40], 0),
    (e: unknown) =>
      e instanceof RangeError &&
      e.message === "Cannot embed token 40: the vocabulary has 40 tokens",
  );
});

async function fixtureWeights(name: string): Promise<ReferenceWeights> {
  const path = (await ensureFixtures()).get(name);
  assert.ok(path, `fixture "${name}"`);
  const model = await openModel(path);
  try {
    return await loadReferenceWeights(model);
  } finally {
    model.close();
  }
}

const FIXTURE_PROMPT = [1, 5, 9, 13, 200, 77];

/** Σ(a − b)² / Σb². */
function nmse(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return num / den;
}

// The llama fixtures share one set of weights stored at each precision, so their
// logits differ from the F32 fixture's only by the rounding of the weights. Bounds
// are about 3× the NMSE measured when written, ordered by bits per weight; a
// dequantizer that misplaces a block gives an NMSE near 1.
const FIXTURE_NMSE: [string, number][] = [
  ["llama-f16", 1e-6],
  ["llama-bf16", 1e-4],
  ["llama-q8_0", 1e-3],
  ["llama-q6_k", 1e-2],
  ["llama-q5_0", 3e-2],
  ["llama-q5_1", 3e-2],
  ["llama-q5_k", 3e-2],
  ["llama-q4_0", 1e-1],
  ["llama-q4_1", 1e-1],
  ["llama-q4_k", 1e-1],
];

Deno.test("ReferenceModel.forward() on the quantized llama fixtures stays near the F32 fixture", async () => {
  const f32 = await fixtureWeights("llama-f32");
  const expected = new ReferenceModel(f32, { nCtx: 8 }).forward(FIXTURE_PROMPT, 0, {
    allLogits: true,
  });
  assert.ok(expected.every(Number.isFinite));
  for (const [name, bound] of FIXTURE_NMSE) {
    const weights = await fixtureWeights(name);
    const logits = new ReferenceModel(weights, { nCtx: 8 }).forward(FIXTURE_PROMPT, 0, {
      allLogits: true,
    });
    assert.equal(logits.length, FIXTURE_PROMPT.length * f32.hparams.nVocab);
    assert.ok(logits.every(Number.isFinite), name);
    const error = nmse(logits, expected);
    assert.ok(error > 0 && error < bound, `${name}: NMSE ${error}, bound ${bound}`);
  }
});

Deno.test("ReferenceModel.forward() uses the qwen2 fixture's biases", async () => {
  const weights = await fixtureWeights("qwen2-f32");
  assert.equal(weights.hparams.ropeStyle, "neox");
  assert.equal(weights.hparams.hasQkvBias, true);
  const logits = new ReferenceModel(weights, { nCtx: 8 }).forward(FIXTURE_PROMPT, 0);
  assert.ok(logits.every(Number.isFinite));
  const unbiased: ReferenceWeights = {
    ...weights,
    layers: weights.layers.map(({ bq: _q, bk: _k, bv: _v, ...rest }) => rest),
  };
  const without = new ReferenceModel(unbiased, { nCtx: 8 }).forward(FIXTURE_PROMPT, 0);
  assert.ok(maxAbsDiff(logits, without) > 1e-3);
});

Deno.test("ReferenceModel.forward() runs the tied-embedding fixture through token_embd", async () => {
  const weights = await fixtureWeights("llama-tied-q8_0");
  assert.equal(weights.hparams.tiedEmbeddings, true);
  assert.equal(weights.output, weights.tokenEmbd);
  const logits = new ReferenceModel(weights, { nCtx: 8 }).forward(FIXTURE_PROMPT, 0);
  assert.equal(logits.length, weights.hparams.nVocab);
  assert.ok(logits.every(Number.isFinite));
});
