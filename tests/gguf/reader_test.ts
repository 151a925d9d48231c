import assert from "node:assert/strict";
import { bytesSource } from "../../src/gguf/byte_source.ts";
import { GgufFormatError } from "../../src/gguf/format_error.ts";
import { GgmlType } from "../../src/gguf/ggml_type.ts";
import { archKey, KV, NO_TOKEN_ID } from "../../src/gguf/keys.ts";
import { openGguf, parseGguf } from "../../src/gguf/reader.ts";
import { type GgufArray, GgufValueType } from "../../src/gguf/types.ts";
import { ExitCode, InputError } from "../../src/errors.ts";
import { buildGguf, pattern, richSpec } from "./_gguf_bytes.ts";

/** Local path of a file URL. */
const fromFileUrl = (url: URL) => decodeURIComponent(url.pathname);
const MODELS = new URL("../../../shared/models/", import.meta.url);
const STORIES = fromFileUrl(new URL("stories260K.gguf", MODELS));
const TINY = fromFileUrl(new URL("llama-2-tiny-random.gguf", MODELS));
const LAYER0 = new URL(
  "../../../shared/oracle/oracle-stories260K-layer0-tensors.json",
  import.meta.url,
);

Deno.test("openGguf() reads the header facts of stories260K.gguf", async () => {
  const file = await openGguf(STORIES);
  try {
    assert.equal(file.path, STORIES);
    assert.equal(file.version, 3);
    assert.equal(file.metadata.entries.size, 19);
    assert.equal(file.tensors.length, 48);
    assert.equal(file.alignment, 32);
    assert.equal(file.dataOffset, 14176);
    assert.equal(file.fileSize, 1_185_376);

    const m = file.metadata;
    const arch = m.string(KV.architecture);
    assert.equal(arch, "llama");
    assert.equal(m.number(archKey(KV.embeddingLength, arch)), 64);
    assert.equal(m.number(archKey(KV.blockCount, arch)), 5);
    assert.equal(m.number(archKey(KV.feedForwardLength, arch)), 172);
    assert.equal(m.number(archKey(KV.attentionHeadCount, arch)), 8);
    assert.equal(m.number(archKey(KV.attentionHeadCountKv, arch)), 4);
    assert.equal(m.number(archKey(KV.ropeDimensionCount, arch)), 8);
    assert.equal(m.number(archKey(KV.contextLength, arch)), 2048);
    assert.equal(m.entries.get(archKey(KV.contextLength, arch))?.type, GgufValueType.U32);
    assert.ok(Math.abs(m.number(archKey(KV.attentionLayerNormRmsEpsilon, arch)) - 1e-5) < 1e-10);
    assert.equal(m.optionalNumber(archKey(KV.ropeFreqBase, arch)), undefined);
    assert.equal(m.has(KV.fileType), false);
    assert.equal(m.optionalBool(KV.tokenizerAddBos), undefined);

    assert.equal(m.string(KV.tokenizerModel), "llama");
    const tokens = m.stringArray(KV.tokenizerTokens);
    assert.equal(tokens.length, 512);
    assert.deepEqual(tokens.slice(0, 4), ["<unk>", "<s>", "</s>", "<0x00>"]);
    assert.equal(tokens[258], "<0xFF>");
    const scores = m.numberArray(KV.tokenizerScores);
    assert.equal(scores.length, 512);
    for (let k = 0; k <= 252; k++) assert.ok(scores[259 + k] === -k, `score of token ${259 + k}`);
    assert.equal(m.number(KV.tokenizerUnkId), 0);
    assert.equal(m.number(KV.tokenizerBosId), 1);
    assert.equal(m.number(KV.tokenizerEosId), 2);
    assert.equal(m.number(KV.tokenizerSepId), NO_TOKEN_ID);
    assert.equal(m.number(KV.tokenizerPadId), NO_TOKEN_ID);
  } finally {
    file.close();
  }
});

Deno.test("openGguf() reads the tensor table of stories260K.gguf", async () => {
  const file = await openGguf(STORIES);
  try {
    assert.ok(file.tensors.every((t) => t.type === GgmlType.F32));
    const dims = (name: string) => file.tensor(name)?.dims;
    assert.deepEqual(dims("token_embd.weight"), [64, 512]);
    assert.deepEqual(dims("output.weight"), [64, 512]);
    assert.deepEqual(dims("output_norm.weight"), [64]);
    for (let b = 0; b < 5; b++) {
      assert.deepEqual(dims(`blk.${b}.attn_q.weight`), [64, 64]);
      assert.deepEqual(dims(`blk.${b}.attn_k.weight`), [64, 32]);
      assert.deepEqual(dims(`blk.${b}.attn_v.weight`), [64, 32]);
      assert.deepEqual(dims(`blk.${b}.attn_output.weight`), [64, 64]);
      assert.deepEqual(dims(`blk.${b}.attn_norm.weight`), [64]);
      assert.deepEqual(dims(`blk.${b}.ffn_gate.weight`), [64, 172]);
      assert.deepEqual(dims(`blk.${b}.ffn_up.weight`), [64, 172]);
      assert.deepEqual(dims(`blk.${b}.ffn_down.weight`), [172, 64]);
      assert.deepEqual(dims(`blk.${b}.ffn_norm.weight`), [64]);
    }
    assert.equal(file.tensor("blk.5.attn_q.weight"), undefined);
    for (const t of file.tensors) {
      assert.equal(t.elementCount, t.dims.reduce((a, b) => a * b, 1));
      assert.equal(t.byteSize, 4 * t.elementCount);
      assert.equal(t.offset, file.dataOffset + t.relativeOffset);
      assert.equal(t.offset % 32, 0);
      assert.ok(t.offset + t.byteSize <= file.fileSize, `${t.name} ends inside the file`);
    }
  } finally {
    file.close();
  }
});

Deno.test("readTensor() returns the embedding rows llama.cpp looked up", async () => {
  const oracle = JSON.parse(await Deno.readTextFile(LAYER0)) as {
    tokens: number[];
    tensors: { name: string; data: number[] }[];
  };
  const embd = oracle.tensors.find((t) => t.name === "inp_embd")!;
  const file = await openGguf(STORIES);
  try {
    const info = file.tensor("token_embd.weight")!;
    const into = new Uint8Array(info.byteSize + 16);
    const bytes = await file.readTensor(info, into);
    assert.equal(bytes.buffer, into.buffer);
    assert.equal(bytes.length, info.byteSize);
    const floats = new Float32Array(bytes.buffer, bytes.byteOffset, info.elementCount);
    oracle.tokens.forEach((token, i) => {
      for (let j = 0; j < 64; j++) {
        assert.ok(Math.abs(floats[token * 64 + j]! - embd.data[i * 64 + j]!) < 1e-6);
      }
    });
    await assert.rejects(file.readTensor(info, new Uint8Array(10)), RangeError);
  } finally {
    file.close();
  }
});

Deno.test("openGguf() reads llama-2-tiny-random.gguf: F16 matrices, F32 norms", async () => {
  const file = await openGguf(TINY);
  try {
    assert.equal(file.version, 3);
    assert.equal(file.metadata.entries.size, 18);
    assert.equal(file.tensors.length, 12);
    assert.equal(file.dataOffset, 724416);
    assert.equal(file.metadata.number(KV.fileType), 1);
    assert.equal(file.metadata.stringArray(KV.tokenizerTokens).length, 32000);
    assert.equal(file.tensors[0]!.name, "token_embd.weight");
    assert.equal(file.tensors.at(-1)!.name, "output.weight");
    const norms = file.tensors.filter((t) => t.dims.length === 1);
    const matrices = file.tensors.filter((t) => t.dims.length === 2);
    assert.equal(norms.length, 3);
    assert.equal(matrices.length, 9);
    assert.ok(norms.every((t) => t.type === GgmlType.F32));
    assert.ok(matrices.every((t) => t.type === GgmlType.F16 && t.byteSize === 2 * t.elementCount));
    assert.deepEqual(file.tensor("token_embd.weight")?.dims, [8, 32000]);
    for (const t of file.tensors) assert.ok(t.offset + t.byteSize <= file.fileSize);
  } finally {
    file.close();
  }
});

Deno.test("parseGguf() decodes every value type, nested arrays and tensors", async () => {
  const spec = richSpec();
  const { bytes, layout } = buildGguf(spec);
  const file = await parseGguf(bytesSource(bytes));
  assert.equal(file.path, undefined);
  assert.equal(file.dataOffset, layout.dataOffset);
  assert.equal(file.metadata.entries.size, spec.metadata.length);
  for (const [key, type, value] of spec.metadata) {
    const entry = file.metadata.entries.get(key);
    assert.equal(entry?.type, type, key);
    const expected = typeof value === "bigint" && value <= BigInt(Number.MAX_SAFE_INTEGER) &&
        value >= BigInt(Number.MIN_SAFE_INTEGER)
      ? Number(value)
      : value;
    assert.deepEqual(entry.value, expected, key);
  }
  assert.equal(typeof file.metadata.get("test.u64"), "bigint");
  assert.equal(file.metadata.get("test.i64"), -(2n ** 62n));
  const nested = file.metadata.get("test.nested") as GgufArray;
  assert.equal(nested.elementType, GgufValueType.ARRAY);
  assert.deepEqual((nested.values[0] as GgufArray).values, [1, -2, 3]);

  assert.deepEqual(file.tensors.map((t) => t.name), spec.tensors.map((t) => t.name));
  const q4k = file.tensor("blk.0.ffn_down.weight")!;
  assert.equal(q4k.type, GgmlType.Q4_K);
  assert.equal(q4k.byteSize, 2 * 144);
  assert.equal(file.tensor("blk.0.ffn_up.weight")!.byteSize, 3 * 2 * 34);
  for (const [k, t] of file.tensors.entries()) {
    assert.deepEqual(await file.readTensor(t), pattern(t.byteSize, k));
  }
});

Deno.test("parseGguf() accepts version 2, a custom alignment and an empty file body", async () => {
  const spec = richSpec();
  const metadata = spec.metadata.map((e) =>
    e[0] === KV.alignment ? [KV.alignment, GgufValueType.U32, 64] as const : e
  );
  const { bytes, layout } = buildGguf({ ...spec, version: 2, alignment: 64, metadata });
  const file = await parseGguf(bytesSource(bytes));
  assert.equal(file.version, 2);
  assert.equal(file.alignment, 64);
  assert.equal(file.dataOffset % 64, 0);
  assert.equal(file.dataOffset, layout.dataOffset);
  assert.ok(file.tensors.every((t) => t.relativeOffset % 64 === 0));

  const empty = await parseGguf(bytesSource(buildGguf({ metadata: [], tensors: [] }).bytes));
  assert.equal(empty.metadata.entries.size, 0);
  assert.equal(empty.tensors.length, 0);
  assert.equal(empty.alignment, 32);
});

Deno.test("parseGguf() grows its window for a 160,000-token vocabulary over 1 MiB", async () => {
  const tokens = Array.from({ length: 160_000 }, (_, i) => `▁token${i}`);
  const { bytes } = buildGguf({
    metadata: [[KV.tokenizerTokens, GgufValueType.ARRAY, {
      elementType: GgufValueType.STRING,
      values: tokens,
    }]],
    tensors: [{ name: "output_norm.weight", type: GgmlType.F32, dims: [64] }],
  });
  assert.ok(bytes.length > 2 * (1 << 20));
  const t0 = performance.now();
  const file = await parseGguf(bytesSource(bytes));
  console.log(
    `parsed 160,000 tokens (${bytes.length} bytes) in ${(performance.now() - t0).toFixed(1)} ms`,
  );
  const parsed = file.metadata.stringArray(KV.tokenizerTokens);
  assert.equal(parsed.length, tokens.length);
  assert.equal(parsed[159_999], "▁token159999");
  assert.equal(file.tensor("output_norm.weight")?.offset, file.dataOffset);
});

Deno.test("openGguf() reports a missing file, a directory and a non-GGUF file by name", async () => {
  const missing = fromFileUrl(new URL("no-such-model.gguf", MODELS));
  await assert.rejects(openGguf(missing), (e: unknown) => {
    assert.ok(e instanceof InputError);
    assert.equal(e.exitCode, ExitCode.input);
    assert.match(e.message, /no-such-model\.gguf.*no such file/);
    return true;
  });
  const dir = fromFileUrl(MODELS);
  await assert.rejects(openGguf(dir), (e: unknown) => {
    assert.ok(e instanceof InputError);
    assert.ok(e.message.includes(dir));
    return true;
  });
  const readme = fromFileUrl(new URL("README.md", MODELS));
  await assert.rejects(openGguf(readme), (e: unknown) => {
    assert.ok(e instanceof GgufFormatError);
    assert.equal(e.code, "bad_magic");
    assert.equal(e.exitCode, ExitCode.input);
    assert.ok(e.message.startsWith(`Cannot read "${readme}": not a GGUF file`));
    return true;
  });
});
