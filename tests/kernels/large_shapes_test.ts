/**
 * Forward-pass kernels at the shapes of the models users bring (Llama 3.2 1B,
 * Qwen2 0.5B, Llama 2 7B, TinyLlama), against their CPU twins. Mesa's
 * lavapipe stops any invocation after 65,535 loop iterations in total, so
 * small-shape tests cannot show a per-invocation loop budget overrun: these
 * can. Weights come from `quantize()` on one shared seeded matrix (the same
 * bytes serve 2048×8192 and 8192×2048, whose blocks coincide); the 151936-row
 * vocabulary table is drawn directly as Q8_0 blocks (quantizing 136M values
 * would take seconds), and its outputs are compared on sampled rows.
 *
 * @module
 */

import assert from "node:assert/strict";
import { LimitError } from "../../src/errors.ts";
import { GgmlType, rowBytes } from "../../src/gguf/ggml_type.ts";
import { quantize } from "../../src/gguf/quantize.ts";
import { readBuffer } from "../../src/gpu/buffers.ts";
import { createAdd } from "../../src/gpu/ops/add.ts";
import { createArgmax } from "../../src/gpu/ops/argmax.ts";
import { createGetRows } from "../../src/gpu/ops/get_rows.ts";
import { createMatmul } from "../../src/gpu/ops/matmul.ts";
import { createMatvec } from "../../src/gpu/ops/matvec.ts";
import { createRmsNorm } from "../../src/gpu/ops/rms_norm.ts";
import { createRope } from "../../src/gpu/ops/rope.ts";
import { createSiluMul } from "../../src/gpu/ops/silu_mul.ts";
import type { GpuRuntime } from "../../src/gpu/runtime.ts";
import { createGpuWeight, destroyGpuWeight, type GpuWeight } from "../../src/gpu/weights.ts";
import { addInPlace } from "../../src/reference/add.ts";
import { argmax } from "../../src/reference/argmax.ts";
import { embedding } from "../../src/reference/embedding.ts";
import { matmul } from "../../src/reference/matmul.ts";
import { matvec } from "../../src/reference/matvec.ts";
import { makeRng } from "../../src/reference/prng.ts";
import { rmsNorm } from "../../src/reference/rms_norm.ts";
import { rope, type RopeOptions } from "../../src/reference/rope.ts";
import { siluMul } from "../../src/reference/silu_mul.ts";
import { gpuTestOptions } from "../_gpu.ts";
import { stepBuffer } from "./_step.ts";
import { compare, randomValues, readF32, storageOf, submitPass, testRuntime } from "./_cases.ts";
import { assertCloseToTwin, typeTag } from "./_quant_cases.ts";

// Weight kernels: as in matvec_test.ts / matmul_test.ts (f32 sums in another
// order than the f64 twin; longer rows only add rounding, measured NMSE ~1e-14).
const MAX_NMSE = 1e-10;
const MAX_ABS_PER_SCALE = 1e-5;

/** The shared 8192×2048 unit-normal matrix every quantized weight starts from. */
let valuesCache: Float32Array | undefined;
function sharedValues(): Float32Array {
  return valuesCache ??= randomValues(2024, 8192 * 2048);
}

function assertClose(got: Float32Array, want: Float32Array, label: string) {
  assertCloseToTwin(got, want, label, MAX_NMSE, MAX_ABS_PER_SCALE);
}

function upload(rt: GpuRuntime, type: GgmlType, bytes: Uint8Array, rows: number, cols: number) {
  return createGpuWeight(rt, bytes, { name: `w${rows}x${cols}`, type, rows, cols });
}

/** GPU `W·x` for the whole weight. */
async function gpuMatvec(
  rt: GpuRuntime,
  weight: GpuWeight,
  x: Float32Array,
): Promise<Float32Array> {
  const xBuf = storageOf(rt.device, x, "x");
  const yBuf = storageOf(rt.device, new Float32Array(weight.rows).fill(Number.NaN), "y");
  const op = createMatvec(rt, { weight, x: xBuf, y: yBuf });
  submitPass(rt.device, [op]);
  const got = await readF32(rt.device, yBuf, weight.rows);
  op.destroy();
  xBuf.destroy();
  yBuf.destroy();
  return got;
}

/** The CPU twin on rows `sample` only. */
function sampledMatvec(
  type: GgmlType,
  bytes: Uint8Array,
  cols: number,
  x: Float32Array,
  sample: readonly number[],
): Float32Array {
  const rb = rowBytes(type, cols);
  return Float32Array.from(
    sample,
    (r) => matvec(type, bytes.subarray(r * rb, (r + 1) * rb), 1, cols, x)[0]!,
  );
}

// Mat-vec: decode projections of the real models.
const MATVEC_SHAPES: ReadonlyArray<readonly [GgmlType, number, number, string]> = [
  [GgmlType.F16, 8192, 2048, "Llama 3.2 1B ffn_up"],
  [GgmlType.F16, 2048, 8192, "Llama 3.2 1B ffn_down"],
  [GgmlType.F16, 512, 11008, "Llama 2 7B ffn_down rows"],
  [GgmlType.Q8_0, 8192, 2048, "Llama 3.2 1B ffn_up"],
  [GgmlType.Q8_0, 2048, 8192, "Llama 3.2 1B ffn_down"],
  [GgmlType.Q8_0, 512, 11008, "Llama 2 7B ffn_down rows"],
  [GgmlType.Q4_K, 8192, 2048, "Llama 3.2 1B ffn_up"],
  [GgmlType.Q4_K, 2048, 8192, "Llama 3.2 1B ffn_down"],
  [GgmlType.Q4_K, 512, 11008, "Llama 2 7B ffn_down rows"],
  [GgmlType.Q6_K, 8192, 2048, "Llama 3.2 1B ffn_up"],
  [GgmlType.Q6_K, 2048, 8192, "Llama 3.2 1B ffn_down"],
  [GgmlType.Q6_K, 512, 11008, "Llama 2 7B ffn_down rows"],
  [GgmlType.Q5_0, 4864, 896, "Qwen2 0.5B ffn_up"],
  [GgmlType.Q5_0, 896, 4864, "Qwen2 0.5B ffn_down"],
  [GgmlType.Q8_0, 4864, 896, "Qwen2 0.5B ffn_up"],
  [GgmlType.Q8_0, 896, 4864, "Qwen2 0.5B ffn_down"],
];

for (const type of new Set(MATVEC_SHAPES.map(([t]) => t))) {
  Deno.test({
    name: `matvec_${typeTag(type)} matches the CPU twin at real model shapes`,
    ...gpuTestOptions,
    fn: async (t) => {
      const rt = await testRuntime();
      const values = sharedValues();
      const quantized = new Map<number, Uint8Array>();
      for (const [ty, rows, cols, what] of MATVEC_SHAPES) {
        if (ty !== type) continue;
        const name = `matvec_${typeTag(type)}(rows=${rows}, cols=${cols}) — ${what}`;
        await t.step(name, async () => {
          // Same elements in the same order give the same blocks for any row length.
          const count = rows * cols;
          let all = quantized.get(count);
          if (all === undefined) {
            all = quantize(type, values.subarray(0, count));
            quantized.set(count, all);
          }
          const x = randomValues(rows + cols, cols);
          const weight = upload(rt, type, all, rows, cols);
          const got = await gpuMatvec(rt, weight, x);
          destroyGpuWeight(weight);
          assertClose(got, matvec(type, all, rows, cols, x), name);
        });
      }
    },
  });
}

// The vocabulary table of Qwen2 0.5B: 151936 × 896 Q8_0 is 144.6 MB, more than
// one 128 MiB storage binding, so it uploads as two chunks.
const VOCAB = 151936;
const EMBD = 896;

/**
 * A seeded random `rows × cols` Q8_0 table built block by block: 32 random
 * int8 codes and an f16 scale of either sign in [2^-8, 2^-4).
 */
function randomQ8_0(rows: number, cols: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(rows * rowBytes(GgmlType.Q8_0, cols));
  const rng = makeRng(seed);
  const words = new Uint32Array(bytes.buffer, 0, bytes.length >> 2);
  for (let i = 0; i < words.length; i++) words[i] = rng() * 4294967296;
  const view = new DataView(bytes.buffer);
  for (let at = 0; at < bytes.length; at += 34) {
    const r = view.getUint16(at, true);
    // sign | exponent 7..10 (2^-8 .. 2^-5) | 10-bit mantissa
    view.setUint16(at, (r & 0x8000) | ((7 + ((r >> 10) & 3)) << 10) | (r & 0x3ff), true);
  }
  return bytes;
}

let vocabCache: Uint8Array | undefined;
function vocabTable(): Uint8Array {
  return vocabCache ??= randomQ8_0(VOCAB, EMBD, 151936);
}

/** Row ids worth checking in a chunked table: both ends of every chunk, plus `extra` seeded random ones. */
function sampleRows(weight: GpuWeight, extra: number, seed: number): number[] {
  const ids = new Set<number>();
  for (const { firstRow, rowCount } of weight.chunks) {
    for (const r of [firstRow, firstRow + 1, firstRow + rowCount - 2, firstRow + rowCount - 1]) {
      ids.add(r);
    }
  }
  const rng = makeRng(seed);
  while (ids.size < weight.chunks.length * 4 + extra) ids.add(Math.floor(rng() * weight.rows));
  return [...ids];
}

Deno.test({
  name:
    `matvec_q8_0(rows=${VOCAB}, cols=${EMBD}) — Qwen2 lm_head in two chunks — matches the twin on sampled rows`,
  ...gpuTestOptions,
  fn: async () => {
    const rt = await testRuntime();
    const bytes = vocabTable();
    const weight = upload(rt, GgmlType.Q8_0, bytes, VOCAB, EMBD);
    assert.equal(weight.chunks.length, 2);
    const x = randomValues(5, EMBD);
    const all = await gpuMatvec(rt, weight, x);
    const sample = sampleRows(weight, 400, 6);
    destroyGpuWeight(weight);
    const got = Float32Array.from(sample, (r) => all[r]!);
    assertClose(got, sampledMatvec(GgmlType.Q8_0, bytes, EMBD, x, sample), "lm_head");
    assert.ok(all.every(Number.isFinite), "every logit is written");
  },
});

Deno.test({
  name: `get_rows_q8_0(vocab=${VOCAB}, cols=${EMBD}, tokens=128) reads ids from both chunks`,
  ...gpuTestOptions,
  fn: async () => {
    const rt = await testRuntime();
    const bytes = vocabTable();
    const weight = upload(rt, GgmlType.Q8_0, bytes, VOCAB, EMBD);
    const ids = sampleRows(weight, 120, 7);
    const idsBuf = storageOf(rt.device, Uint32Array.from(ids), "ids");
    const out = storageOf(rt.device, new Float32Array(ids.length * EMBD).fill(Number.NaN), "out");
    const op = createGetRows(rt, { table: weight, ids: idsBuf, out, maxTokens: ids.length });
    submitPass(rt.device, [op]);
    const got = await readF32(rt.device, out, ids.length * EMBD);
    op.destroy();
    destroyGpuWeight(weight);
    idsBuf.destroy();
    out.destroy();
    // Dequantization is exact up to f32 rounding of d·q.
    assert.deepEqual(got, embedding(GgmlType.Q8_0, bytes, EMBD, ids));
  },
});

Deno.test({
  name:
    `matmul_q8_0(rows=${VOCAB}, cols=${EMBD}, tokens=32) — Qwen2 all-logits lm_head in two chunks`,
  ...gpuTestOptions,
  fn: async () => {
    const rt = await testRuntime();
    const bytes = vocabTable();
    const weight = upload(rt, GgmlType.Q8_0, bytes, VOCAB, EMBD);
    const tokens = 32;
    const x = randomValues(8, tokens * EMBD);
    const xBuf = storageOf(rt.device, x, "x");
    const yBuf = storageOf(rt.device, new Float32Array(tokens * VOCAB).fill(Number.NaN), "y");
    const op = createMatmul(rt, { weight, x: xBuf, y: yBuf, maxTokens: tokens });
    submitPass(rt.device, [op]);
    const all = await readF32(rt.device, yBuf, tokens * VOCAB);
    const sample = sampleRows(weight, 100, 9);
    op.destroy();
    destroyGpuWeight(weight);
    xBuf.destroy();
    yBuf.destroy();
    assert.ok(all.every(Number.isFinite), "every logit is written");
    for (const t of [0, 17, 31]) {
      const xt = x.subarray(t * EMBD, (t + 1) * EMBD);
      const got = Float32Array.from(sample, (r) => all[t * VOCAB + r]!);
      assertClose(got, sampledMatvec(GgmlType.Q8_0, bytes, EMBD, xt, sample), `token ${t}`);
    }
  },
});

/** GPU `Y = X·Wᵀ` for `tokens` rows of X, and the twin on the token rows `sample`. */
async function checkMatmul(
  type: GgmlType,
  rows: number,
  cols: number,
  tokens: number,
  sample: readonly number[],
  seed: number,
) {
  const rt = await testRuntime();
  const bytes = quantize(type, sharedValues().subarray(0, rows * cols));
  const weight = upload(rt, type, bytes, rows, cols);
  const x = randomValues(seed, tokens * cols);
  const xBuf = storageOf(rt.device, x, "x");
  const yBuf = storageOf(rt.device, new Float32Array(tokens * rows).fill(Number.NaN), "y");
  const op = createMatmul(rt, { weight, x: xBuf, y: yBuf, maxTokens: tokens });
  submitPass(rt.device, [op]);
  const all = await readF32(rt.device, yBuf, tokens * rows);
  op.destroy();
  destroyGpuWeight(weight);
  xBuf.destroy();
  yBuf.destroy();
  const xs = new Float32Array(sample.length * cols);
  const got = new Float32Array(sample.length * rows);
  sample.forEach((t, i) => {
    xs.set(x.subarray(t * cols, (t + 1) * cols), i * cols);
    got.set(all.subarray(t * rows, (t + 1) * rows), i * rows);
  });
  const name = `matmul_${typeTag(type)}(rows=${rows}, cols=${cols}, tokens=${tokens})`;
  assertClose(got, matmul(type, bytes, rows, cols, xs, sample.length), name);
  assert.ok(all.every(Number.isFinite), `${name}: every output is written`);
}

// Tokens checked against the twin: both ends of each 32-token tile edge and the last one.
const TOKEN_SAMPLE = [0, 1, 31, 32, 63, 64, 95, 96, 126, 127];

for (const type of [GgmlType.Q4_K, GgmlType.Q8_0]) {
  Deno.test({
    name: `matmul_${typeTag(type)}(rows=2048, cols=2048, tokens=128) — Llama 3.2 1B attn_q prefill`,
    ...gpuTestOptions,
    fn: () => checkMatmul(type, 2048, 2048, 128, TOKEN_SAMPLE, 11),
  });
}

Deno.test({
  name: "matmul_q6_k(rows=64, cols=11008, tokens=128) — Llama 2 7B ffn_down rows",
  ...gpuTestOptions,
  fn: () => checkMatmul(GgmlType.Q6_K, 64, 11008, 128, TOKEN_SAMPLE, 12),
});

Deno.test({
  name: "matmul_q5_0(rows=896, cols=4864, tokens=128) — Qwen2 0.5B ffn_down",
  ...gpuTestOptions,
  fn: () => checkMatmul(GgmlType.Q5_0, 896, 4864, 128, TOKEN_SAMPLE, 13),
});

// rms_norm: as in rms_norm_test.ts (f32 sum of squares vs the f64 twin).
for (const [rows, n] of [[1, 8192], [128, 8192], [128, 896], [128, 4096]] as const) {
  Deno.test({
    name: `rms_norm(rows=${rows}, n=${n}, eps=1e-5) matches the CPU twin`,
    ...gpuTestOptions,
    fn: async () => {
      const rt = await testRuntime();
      const x = randomValues(n + rows, rows * n, 3);
      const w = randomValues(n, n);
      const xBuf = storageOf(rt.device, x, "x");
      const wBuf = storageOf(rt.device, w, "w");
      const out = storageOf(rt.device, new Float32Array(rows * n).fill(Number.NaN), "out");
      submitPass(rt.device, [
        createRmsNorm(rt, { x: xBuf, weight: wBuf, out, rows, n, eps: 1e-5 }),
      ]);
      const got = await readF32(rt.device, out, rows * n);
      for (const b of [xBuf, wBuf, out]) b.destroy();
      const { nmse, maxAbs } = compare(got, rmsNorm(x, w, n, 1e-5));
      assert.ok(nmse < 1e-12, `NMSE ${nmse}`);
      assert.ok(maxAbs < 1e-5, `max abs ${maxAbs}`);
    },
  });
}

async function gpuArgmax(logits: Float32Array): Promise<number> {
  const rt = await testRuntime();
  const l = storageOf(rt.device, logits, "logits");
  const out = storageOf(rt.device, Uint32Array.of(7777), "out");
  submitPass(rt.device, [createArgmax(rt, { logits: l, out, nVocab: logits.length })]);
  const got = new Uint32Array(await readBuffer(rt.device, out, 4))[0]!;
  l.destroy();
  out.destroy();
  return got;
}

for (const n of [VOCAB, 128256, 32000]) {
  Deno.test({
    name: `argmax(n=${n}) finds a maximum anywhere, including the last element`,
    ...gpuTestOptions,
    fn: async () => {
      const logits = randomValues(n, n, 4);
      assert.equal(await gpuArgmax(logits), argmax(logits));
      for (const at of [n - 1, n - 257, 0, Math.floor(n / 2) + 3]) {
        const planted = logits.slice();
        planted[at] = 100;
        assert.equal(await gpuArgmax(planted), at, `max planted at ${at}`);
      }
      // A tie between the first and the last element goes to the first.
      const tie = logits.slice();
      tie[0] = tie[n - 1] = 100;
      assert.equal(await gpuArgmax(tie), 0);
    },
  });
}

// Elementwise ops over one 128-token prefill chunk of Llama 2 7B's feed-forward.
const FF_ELEMENTS = 128 * 11008;

Deno.test({
  name: `silu_mul(n=${FF_ELEMENTS}) and add(n=${FF_ELEMENTS}) match their CPU twins`,
  ...gpuTestOptions,
  fn: async () => {
    const rt = await testRuntime();
    const gate = randomValues(21, FF_ELEMENTS, 4);
    const up = randomValues(22, FF_ELEMENTS);
    const gBuf = storageOf(rt.device, gate, "gate");
    const uBuf = storageOf(rt.device, up, "up");
    const out = storageOf(rt.device, new Float32Array(FF_ELEMENTS).fill(Number.NaN), "out");
    submitPass(rt.device, [createSiluMul(rt, { gate: gBuf, up: uBuf, out, n: FF_ELEMENTS })]);
    const got = await readF32(rt.device, out, FF_ELEMENTS);
    const { nmse, maxAbs } = compare(got, siluMul(gate, up));
    assert.ok(nmse < 1e-12 && maxAbs < 1e-5, `silu_mul: NMSE ${nmse}, max abs ${maxAbs}`);
    // add: gate += up, in place, exact.
    submitPass(rt.device, [createAdd(rt, { a: gBuf, b: uBuf, n: FF_ELEMENTS })]);
    const sum = await readF32(rt.device, gBuf, FF_ELEMENTS);
    for (const b of [gBuf, uBuf, out]) b.destroy();
    assert.deepEqual(sum, addInPlace(gate, up));
  },
});

// rope at 128-token prefill chunks deep into the context: Llama 2 7B (32 heads
// of 128, norm) and Qwen2 0.5B (14 query / 2 KV heads of 64, neox, base 1e6).
const ROPE_CASES: ReadonlyArray<readonly [number, number, number, RopeOptions]> = [
  [32, 32, 3968, { style: "norm", headDim: 128, ropeDim: 128, freqBase: 10000 }],
  [14, 2, 8064, { style: "neox", headDim: 64, ropeDim: 64, freqBase: 1000000 }],
];

for (const [nHead, nHeadKv, pos, options] of ROPE_CASES) {
  Deno.test({
    name:
      `rope_${options.style}(tokens=128, heads=${nHead}/${nHeadKv}, head_dim=${options.headDim}, pos=${pos})`,
    ...gpuTestOptions,
    fn: async () => {
      const rt = await testRuntime();
      const tokens = 128;
      const q = randomValues(31, tokens * nHead * options.headDim);
      const k = randomValues(32, tokens * nHeadKv * options.headDim);
      const qBuf = storageOf(rt.device, q, "q");
      const kBuf = storageOf(rt.device, k, "k");
      const step = stepBuffer(rt.device, { pos, nTokens: tokens, nKv: pos + tokens, seed: 0 });
      const op = createRope(rt, {
        q: qBuf,
        k: kBuf,
        nHead,
        nHeadKv,
        maxTokens: tokens,
        step,
        rope: options,
      });
      submitPass(rt.device, [op]);
      const gotQ = await readF32(rt.device, qBuf, q.length);
      const gotK = await readF32(rt.device, kBuf, k.length);
      for (const b of [qBuf, kBuf, step]) b.destroy();
      rope(q, tokens, nHead, pos, options);
      rope(k, tokens, nHeadKv, pos, options);
      // As rope_test.ts: cos/sin of reduced angles cost ~1e-7·θ/2π absolute.
      for (const [got, want] of [[gotQ, q], [gotK, k]] as const) {
        const { nmse, maxAbs } = compare(got, want);
        assert.ok(nmse < 1e-10 && maxAbs < 2e-5, `NMSE ${nmse}, max abs ${maxAbs}`);
      }
    },
  });
}

// Lavapipe's loop limit, at its edge: with one thread per workgroup, an F32
// row of 8·65535 columns takes exactly 65,535 iterations and still sums right;
// 8 more columns would be cut short silently, so the host refuses them.
Deno.test({
  name: "matvec_f32(rows=1, cols=524280, wg=1) runs the last allowed loop iteration",
  ...gpuTestOptions,
  fn: async () => {
    const rt = await testRuntime();
    for (const cols of [8 * 65535, 8 * 65536]) {
      const ones = new Float32Array(cols).fill(1);
      const weight = upload(rt, GgmlType.F32, new Uint8Array(ones.buffer), 1, cols);
      const xBuf = storageOf(rt.device, ones, "x");
      const yBuf = storageOf(rt.device, new Float32Array(1), "y");
      try {
        if (cols === 8 * 65535) {
          const op = createMatvec(rt, { weight, x: xBuf, y: yBuf, workgroupSize: 1 });
          submitPass(rt.device, [op]);
          assert.deepEqual([...await readF32(rt.device, yBuf, 1)], [cols]);
          op.destroy();
        } else {
          assert.throws(
            () => createMatvec(rt, { weight, x: xBuf, y: yBuf, workgroupSize: 1 }),
            (e: unknown) =>
              e instanceof LimitError &&
              /rows of 524288 columns on 1 threads take 65536 loop/.test(e.message),
          );
        }
      } finally {
        destroyGpuWeight(weight);
        xBuf.destroy();
        yBuf.destroy();
      }
    }
  },
});

Deno.test({
  name: "createMatmul() refuses an all-logits output larger than one storage binding",
  ...gpuTestOptions,
  fn: async () => {
    const rt = await testRuntime();
    // 256 tokens of Qwen2's 151936 logits: 155.6 MB, which would bind as an
    // invalid bind group and leave the output unwritten without an exception.
    const limit = rt.device.limits.maxStorageBufferBindingSize;
    const weight = upload(rt, GgmlType.Q8_0, randomQ8_0(8, EMBD, 3), 8, EMBD);
    const x = storageOf(rt.device, new Float32Array(256 * EMBD), "x");
    const y = rt.device.createBuffer({ size: 256 * VOCAB * 4, usage: GPUBufferUsage.STORAGE });
    try {
      assert.ok(y.size > limit);
      assert.throws(
        () => createMatmul(rt, { weight, x, y, maxTokens: 256 }),
        (e: unknown) =>
          e instanceof LimitError &&
          e.message.includes(`output "y" for weight "w8x896" holds ${256 * VOCAB * 4} bytes`),
      );
    } finally {
      destroyGpuWeight(weight);
      x.destroy();
      y.destroy();
    }
  },
});
