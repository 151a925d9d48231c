import assert from "node:assert/strict";
import { InputError, UnsupportedError } from "../../src/errors.ts";
import { GgmlType } from "../../src/gguf/ggml_type.ts";
import { GgufMetadata } from "../../src/gguf/metadata.ts";
import { openGguf } from "../../src/gguf/reader.ts";
import { type GgufEntry, type GgufTensorInfo, GgufValueType } from "../../src/gguf/types.ts";
import { readHParams } from "../../src/model/hparams.ts";

const MODELS = new URL("../../../shared/models/", import.meta.url);

type Meta = Record<string, string | number | string[]>;

/** Metadata from plain values: integers as u32, other numbers as f32. */
function metadata(values: Meta): GgufMetadata {
  const entries = new Map<string, GgufEntry>();
  for (const [key, value] of Object.entries(values)) {
    if (typeof value === "string") entries.set(key, { type: GgufValueType.STRING, value });
    else if (Array.isArray(value)) {
      entries.set(key, {
        type: GgufValueType.ARRAY,
        value: { elementType: GgufValueType.STRING, values: value },
      });
    } else {
      const type = Number.isInteger(value) ? GgufValueType.U32 : GgufValueType.F32;
      entries.set(key, { type, value });
    }
  }
  return new GgufMetadata(entries);
}

function tensor(name: string, dims: number[]): GgufTensorInfo {
  const elementCount = dims.reduce((a, b) => a * b, 1);
  return {
    name,
    dims,
    type: GgmlType.F32,
    relativeOffset: 0,
    offset: 0,
    elementCount,
    byteSize: 4 * elementCount,
  };
}

interface Shape {
  embd: number;
  layers: number;
  ff: number;
  heads: number;
  kvHeads: number;
  vocab: number;
  headDim?: number;
  tied?: boolean;
  bias?: boolean;
}

/** A consistent tensor table for a shape. */
function tensors(s: Shape): GgufTensorInfo[] {
  const hd = s.headDim ?? s.embd / s.heads;
  const q = s.heads * hd;
  const kv = s.kvHeads * hd;
  const list = [
    tensor("token_embd.weight", [s.embd, s.vocab]),
    tensor("output_norm.weight", [s.embd]),
  ];
  if (!s.tied) list.push(tensor("output.weight", [s.embd, s.vocab]));
  for (let l = 0; l < s.layers; l++) {
    const b = `blk.${l}.`;
    list.push(
      tensor(b + "attn_norm.weight", [s.embd]),
      tensor(b + "attn_q.weight", [s.embd, q]),
      tensor(b + "attn_k.weight", [s.embd, kv]),
      tensor(b + "attn_v.weight", [s.embd, kv]),
      tensor(b + "attn_output.weight", [q, s.embd]),
      tensor(b + "ffn_norm.weight", [s.embd]),
      tensor(b + "ffn_gate.weight", [s.embd, s.ff]),
      tensor(b + "ffn_up.weight", [s.embd, s.ff]),
      tensor(b + "ffn_down.weight", [s.ff, s.embd]),
    );
    if (s.bias) {
      list.push(
        tensor(b + "attn_q.bias", [q]),
        tensor(b + "attn_k.bias", [kv]),
        tensor(b + "attn_v.bias", [kv]),
      );
    }
  }
  return list;
}

const SHAPE: Shape = { embd: 16, layers: 2, ff: 40, heads: 4, kvHeads: 2, vocab: 50 };

function llamaMeta(extra: Meta = {}, arch = "llama"): Meta {
  return {
    "general.architecture": arch,
    [`${arch}.context_length`]: 128,
    [`${arch}.embedding_length`]: 16,
    [`${arch}.block_count`]: 2,
    [`${arch}.feed_forward_length`]: 40,
    [`${arch}.attention.head_count`]: 4,
    [`${arch}.attention.head_count_kv`]: 2,
    [`${arch}.attention.layer_norm_rms_epsilon`]: 1e-6,
    ...extra,
  };
}

Deno.test("readHParams() reads stories260K's hyper-parameters", async () => {
  const file = await openGguf(new URL("stories260K.gguf", MODELS).pathname);
  try {
    const hp = readHParams(file.metadata, file.tensors);
    const { rmsEps, ...rest } = hp;
    assert.deepEqual(rest, {
      arch: "llama",
      name: "llama",
      nVocab: 512,
      nCtxTrain: 2048,
      nEmbd: 64,
      nLayer: 5,
      nHead: 8,
      nHeadKv: 4,
      headDim: 8,
      nFf: 172,
      ropeDim: 8,
      ropeStyle: "norm",
      ropeFreqBase: 10000,
      hasRopeFreqs: false,
      tiedEmbeddings: false,
      hasQkvBias: false,
    });
    assert.ok(Math.abs(rmsEps - 1e-5) < 1e-12);
  } finally {
    file.close();
  }
});

Deno.test("readHParams() reads llama-2-tiny-random's hyper-parameters", async () => {
  const file = await openGguf(new URL("llama-2-tiny-random.gguf", MODELS).pathname);
  try {
    const hp = readHParams(file.metadata, file.tensors);
    assert.equal(hp.arch, "llama");
    assert.deepEqual(
      [hp.nVocab, hp.nCtxTrain, hp.nEmbd, hp.nLayer, hp.nHead, hp.nHeadKv, hp.headDim, hp.nFf],
      [32000, 4096, 8, 1, 2, 2, 4, 32],
    );
    assert.equal(hp.ropeDim, 4);
    assert.equal(hp.tiedEmbeddings, false);
  } finally {
    file.close();
  }
});

Deno.test("readHParams() applies llama.cpp's defaults", () => {
  const meta = llamaMeta();
  delete meta["llama.attention.head_count_kv"];
  const hp = readHParams(metadata(meta), tensors({ ...SHAPE, kvHeads: 4 }));
  assert.equal(hp.nHeadKv, 4);
  assert.equal(hp.headDim, 4);
  assert.equal(hp.ropeDim, 4);
  assert.equal(hp.ropeFreqBase, 10000);
  assert.equal(hp.nVocab, 50);
  assert.equal(hp.ropeScaling, undefined);
});

Deno.test("readHParams() takes the head size from attention.key_length", () => {
  const meta = metadata(
    llamaMeta({ "llama.attention.key_length": 8, "llama.rope.dimension_count": 6 }),
  );
  const hp = readHParams(meta, tensors({ ...SHAPE, headDim: 8 }));
  assert.equal(hp.headDim, 8);
  assert.equal(hp.ropeDim, 6);
});

Deno.test("readHParams() takes the vocabulary size from vocab_size, then the token list", () => {
  const withKey = readHParams(metadata(llamaMeta({ "llama.vocab_size": 50 })), tensors(SHAPE));
  assert.equal(withKey.nVocab, 50);
  const tokens = Array.from({ length: 50 }, (_, i) => `t${i}`);
  const withList = readHParams(
    metadata(llamaMeta({ "tokenizer.ggml.tokens": tokens })),
    tensors(SHAPE),
  );
  assert.equal(withList.nVocab, 50);
  assert.throws(
    () =>
      readHParams(
        metadata(llamaMeta({ "tokenizer.ggml.tokens": tokens.slice(1) })),
        tensors(SHAPE),
      ),
    (e: unknown) =>
      e instanceof InputError &&
      e.message ===
        'Cannot load model: tensor "token_embd.weight" has dims [16, 50], expected [16, 49]',
  );
});

Deno.test("readHParams() reads qwen2 as neox RoPE with Q/K/V biases", () => {
  const meta = metadata(llamaMeta({ "qwen2.rope.freq_base": 1000000 }, "qwen2"));
  const hp = readHParams(meta, tensors({ ...SHAPE, bias: true, tied: true }));
  assert.equal(hp.arch, "qwen2");
  assert.equal(hp.ropeStyle, "neox");
  assert.equal(hp.hasQkvBias, true);
  assert.equal(hp.tiedEmbeddings, true);
  assert.equal(hp.ropeFreqBase, 1000000);
});

Deno.test("readHParams() rejects a qwen2 model without Q/K/V biases", () => {
  assert.throws(
    () => readHParams(metadata(llamaMeta({}, "qwen2")), tensors(SHAPE)),
    (e: unknown) => e instanceof InputError && /"blk\.0\.attn_q\.bias" is missing/.test(e.message),
  );
});

Deno.test("readHParams() reports a llama file named Mistral as mistral with llama keys", () => {
  const hp = readHParams(
    metadata(llamaMeta({ "general.name": "Mistral-7B-Instruct-v0.2" })),
    tensors(SHAPE),
  );
  assert.equal(hp.arch, "mistral");
  assert.equal(hp.name, "Mistral-7B-Instruct-v0.2");
  assert.equal(hp.ropeStyle, "norm");
});

Deno.test("readHParams() rejects an unsupported architecture with UnsupportedError", () => {
  assert.throws(
    () => readHParams(metadata(llamaMeta({}, "gpt2")), tensors(SHAPE), { file: "g.gguf" }),
    (e: unknown) =>
      e instanceof UnsupportedError && e.exitCode === 4 &&
      e.message ===
        'Cannot load "g.gguf": unsupported architecture "gpt2": d2o runs llama, mistral and qwen2',
  );
});

Deno.test("readHParams() rejects heads that KV heads do not divide", () => {
  assert.throws(
    () => readHParams(metadata(llamaMeta({ "llama.attention.head_count_kv": 3 })), tensors(SHAPE)),
    (e: unknown) =>
      e instanceof InputError &&
      e.message.endsWith("4 attention heads cannot be shared by 3 KV heads"),
  );
});

Deno.test("readHParams() rejects an embedding length that heads do not divide", () => {
  assert.throws(
    () =>
      readHParams(
        metadata(
          llamaMeta({ "llama.attention.head_count": 3, "llama.attention.head_count_kv": 3 }),
        ),
        tensors(SHAPE),
      ),
    (e: unknown) =>
      e instanceof InputError && /embedding length 16 is not a multiple of the 3/.test(e.message),
  );
});

Deno.test("readHParams() names a missing required key", () => {
  const meta = llamaMeta();
  delete meta["llama.feed_forward_length"];
  assert.throws(
    () => readHParams(metadata(meta), tensors(SHAPE), { file: "m.gguf" }),
    (e: unknown) =>
      e instanceof InputError &&
      e.message === 'Cannot load "m.gguf": metadata key "llama.feed_forward_length" is missing',
  );
});

Deno.test("readHParams() names a tensor with the wrong dims, expected and actual", () => {
  const list = tensors(SHAPE).map((t) =>
    t.name === "blk.1.ffn_down.weight" ? tensor(t.name, [41, 16]) : t
  );
  assert.throws(
    () => readHParams(metadata(llamaMeta()), list),
    (e: unknown) =>
      e instanceof InputError &&
      e.message ===
        'Cannot load model: tensor "blk.1.ffn_down.weight" has dims [41, 16], expected [40, 16]',
  );
});

Deno.test("readHParams() names a missing block tensor", () => {
  const list = tensors(SHAPE).filter((t) => t.name !== "blk.1.attn_v.weight");
  assert.throws(
    () => readHParams(metadata(llamaMeta()), list),
    (e: unknown) =>
      e instanceof InputError && /tensor "blk\.1\.attn_v\.weight" is missing/.test(e.message),
  );
});

Deno.test("readHParams() notes tied embeddings and rope_freqs", () => {
  const list = [...tensors({ ...SHAPE, tied: true }), tensor("rope_freqs.weight", [2])];
  const hp = readHParams(metadata(llamaMeta()), list);
  assert.equal(hp.tiedEmbeddings, true);
  assert.equal(hp.hasRopeFreqs, true);
  const wrong = [...tensors(SHAPE), tensor("rope_freqs.weight", [4])];
  assert.throws(
    () => readHParams(metadata(llamaMeta()), wrong),
    (e: unknown) =>
      e instanceof InputError &&
      /"rope_freqs.weight" has dims \[4\], expected \[2\]/.test(e.message),
  );
});

Deno.test("readHParams() reads linear RoPE scaling and rejects YaRN", () => {
  const linear = readHParams(metadata(llamaMeta({ "llama.rope.scale_linear": 4 })), tensors(SHAPE));
  assert.deepEqual(linear.ropeScaling, { type: "linear", factor: 4 });
  assert.throws(
    () =>
      readHParams(
        metadata(llamaMeta({ "llama.rope.scaling.type": "yarn", "llama.rope.scaling.factor": 4 })),
        tensors(SHAPE),
      ),
    (e: unknown) =>
      e instanceof UnsupportedError && /RoPE scaling "yarn" is not supported/.test(e.message),
  );
});

Deno.test("readHParams() rejects mixture-of-experts blocks", () => {
  const list = [...tensors(SHAPE), tensor("blk.0.ffn_gate_inp.weight", [16, 8])];
  assert.throws(
    () => readHParams(metadata(llamaMeta()), list),
    (e: unknown) => e instanceof UnsupportedError && /mixture-of-experts/.test(e.message),
  );
});
