/**
 * A probe of where next-token logits part ways (not a test): dumps the
 * log-probability rows of one source over the first positions of
 * `ppl-text.txt`, then compares dumps. Sources: `d2o` (the GPU path), `twin`
 * (the CPU reference, `ReferenceModel`), `twin-cpu-head` (the twin with the
 * lm_head's input rounded to 8 bits as llama.cpp's CPU build rounds a
 * mat-mul's activations: q8_K blocks for K-quant weights, q8_0 for the rest),
 * `twin-f16qk` (the twin with queries and keys rounded to f16 before K·Q, as
 * ggml-vulkan's batched mat-mul converts non-contiguous operands: both are
 * permuted views in llama.cpp's attention),
 * `twin-vulkan` (both roundings),
 * `vulkan` (llama.cpp's Vulkan build in
 * f32: `VULKAN_F32_ENV`, plus whatever `GGML_VK_*` switches the environment
 * sets), `vulkan-default` (the Vulkan build with only
 * `GGML_VK_VISIBLE_DEVICES=0`), `cpu` (llama.cpp's CPU build). llama.cpp runs
 * with the differential suite's options (no flash attention, f32 KV cache).
 * One source per process: ggml reads its switches once, when the backend starts.
 *
 * ```sh
 * deno run --config tests/llama/deno.json -A tests/llama/agreement_probe.ts \
 *   dump vulkan fixtures/generated/full-llama-3.2-1b-2l-q4_k_m.gguf /tmp/vk.bin [positions]
 * deno run --config tests/llama/deno.json -A tests/llama/agreement_probe.ts \
 *   compare /tmp/twin.bin /tmp/vk.bin /tmp/d2o.bin
 * ```
 *
 * `compare` prints, against the first dump, each other's worst difference as
 * a share of the range (over the tokens the first gives a finite value) and
 * the relative difference of the full-window perplexity.
 *
 * @module
 */

import { GgmlType } from "../../src/gguf/ggml_type.ts";
import { kvTypes } from "../../src/gpu/ops/kv_elem.ts";
import { createRuntime } from "../../src/gpu/runtime.ts";
import { acquireGpu } from "../../src/gpu/device.ts";
import { openModel } from "../../src/model/model_file.ts";
import { Session } from "../../src/model/session.ts";
import { ropeOptionsFor } from "../../src/model/rope_options.ts";
import { attention } from "../../src/reference/attention.ts";
import { type ForwardPass, ReferenceModel, runForward } from "../../src/reference/forward.ts";
import { matmul } from "../../src/reference/matmul.ts";
import { loadReferenceWeights, type ReferenceWeights } from "../../src/reference/model_weights.ts";
import { sharedPath } from "../tokenizer/_shared.ts";
import { logSoftmaxRows, perplexityOf, worstRelative } from "./_agreement.ts";
import { getLlama, llamaLogProbs, VULKAN_F32_ENV } from "./_llama.ts";
import { ourTokenizer } from "./_vocab.ts";

/** A dump: the token ids and one log-probability row per position. */
interface Dump {
  readonly ids: number[];
  readonly rows: Float64Array[];
}

const SOURCES = [
  "d2o",
  "twin",
  "twin-cpu-head",
  "twin-f16qk",
  "twin-vulkan",
  "vulkan",
  "vulkan-default",
  "cpu",
] as const;
type Source = typeof SOURCES[number];

/** The log-probability rows of `source` after each of `ids`. */
async function rowsOf(source: Source, path: string, ids: number[]): Promise<Float64Array[]> {
  const model = await openModel(path);
  const nVocab = model.hparams.nVocab;
  const nCtx = Math.max(64, ids.length);
  if (source.startsWith("twin")) {
    const weights = await loadReferenceWeights(model);
    model.close();
    let normed: Float32Array = new Float32Array();
    const onTensor = (name: string, data: Float32Array) => {
      if (name === "result_norm") normed = data;
    };
    const options = { allLogits: true, onTensor };
    const f16QueryKey = source === "twin-f16qk" || source === "twin-vulkan";
    const logits = f16QueryKey
      ? runForward(weights, f16QueryKeyPass(weights, ids), options)
      : new ReferenceModel(weights, { nCtx }).forward(ids, 0, options);
    if (source === "twin" || source === "twin-f16qk") return logSoftmaxRows(logits, nVocab);
    const { type, bytes, rows, cols } = weights.output;
    const rounded = roundLikeGgmlCpu(normed, type);
    return logSoftmaxRows(matmul(type, bytes, rows, cols, rounded, ids.length), nVocab);
  }
  model.close();
  if (source === "d2o") {
    const runtime = createRuntime(await acquireGpu());
    const session = await Session.open(path, {
      nCtx,
      allLogits: true,
      maxBatch: ids.length,
      runtime,
      kvTypes: kvTypes("f32"),
    });
    try {
      return logSoftmaxRows(await session.evaluate(ids), nVocab);
    } finally {
      session.close();
    }
  }
  if (source === "vulkan") {
    for (const [name, value] of Object.entries(VULKAN_F32_ENV)) Deno.env.set(name, value);
  }
  const llama = await getLlama(source === "cpu" ? false : "vulkan");
  const llamaModel = await llama.loadModel({
    modelPath: path,
    gpuLayers: source === "cpu" ? 0 : "max",
  });
  try {
    return await llamaLogProbs(llamaModel, ids, nVocab, nCtx, "F32");
  } finally {
    await llamaModel.dispose();
  }
}

/**
 * One pass over `ids` from position 0 whose attention rounds queries and keys
 * to f16 before K·Q (values and the rest in f32).
 */
function f16QueryKeyPass(weights: ReferenceWeights, ids: readonly number[]): ForwardPass {
  const hp = weights.hparams;
  const T = ids.length;
  const shape = { nHead: hp.nHead, nHeadKv: hp.nHeadKv, headDim: hp.headDim, nSlots: T };
  const attend = (_layer: number, q: Float32Array, k: Float32Array, v: Float32Array) => {
    // (T, kv_heads, head_dim) → the cache's (kv_heads, T, head_dim)
    const kCache = new Float32Array(k.length);
    const vCache = new Float32Array(v.length);
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < hp.nHeadKv; h++) {
        const src = (t * hp.nHeadKv + h) * hp.headDim;
        const dst = (h * T + t) * hp.headDim;
        kCache.set(k.subarray(src, src + hp.headDim), dst);
        vCache.set(v.subarray(src, src + hp.headDim), dst);
      }
    }
    const f16 = (x: Float32Array) => x.map(Math.f16round);
    return attention(f16(q), f16(kCache), vCache, T, 0, shape).out;
  };
  return { tokens: ids, pos0: 0, rope: ropeOptionsFor(hp, weights.ropeFreqs), attend };
}

/**
 * Activations as ggml's CPU build rounds them before a mat-mul with `weight`
 * rows: K-quants take q8_K (256-value blocks, scale −127 / the signed
 * extreme in f32, codes rounded to nearest even, value = code / scale);
 * the others q8_0 (32-value blocks, scale max|x| / 127 stored as f16,
 * value = code × that f16).
 */
function roundLikeGgmlCpu(x: Float32Array, weight: GgmlType): Float32Array {
  const kQuant = [GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K].includes(weight);
  const block = kQuant ? 256 : 32;
  const out = new Float32Array(x.length);
  const f = Math.fround;
  const nearestEven = (v: number) => {
    const r = Math.round(v);
    return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
  };
  for (let b = 0; b < x.length; b += block) {
    let amax = 0;
    let extreme = 0;
    for (let j = b; j < b + block; j++) {
      if (Math.abs(x[j]!) > amax) [amax, extreme] = [Math.abs(x[j]!), x[j]!];
    }
    if (amax === 0) continue;
    if (kQuant) {
      const iscale = f(-127 / extreme);
      const d = f(1 / iscale);
      for (let j = b; j < b + block; j++) {
        out[j] = Math.min(127, nearestEven(f(iscale * x[j]!))) * d;
      }
    } else {
      const d = f(amax / 127);
      const id = f(127 / amax);
      const stored = Math.f16round(d);
      for (let j = b; j < b + block; j++) out[j] = nearestEven(f(x[j]! * id)) * stored;
    }
  }
  return out;
}

/** Writes a dump: u32 count, u32 vocabulary, the ids as u32, the rows as f64. */
async function writeDump(file: string, dump: Dump): Promise<void> {
  const nVocab = dump.rows[0]!.length;
  const bytes = new Uint8Array(8 + 4 * dump.ids.length + 8 * nVocab * dump.rows.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, dump.ids.length, true);
  view.setUint32(4, nVocab, true);
  dump.ids.forEach((id, i) => view.setUint32(8 + 4 * i, id, true));
  const rowsAt = 8 + 4 * dump.ids.length;
  dump.rows.forEach((row, i) => {
    new Float64Array(bytes.buffer, rowsAt + 8 * nVocab * i, nVocab).set(row);
  });
  await Deno.writeFile(file, bytes);
}

/** Reads a dump written by {@linkcode writeDump}. */
async function readDump(file: string): Promise<Dump> {
  const bytes = await Deno.readFile(file);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getUint32(0, true);
  const nVocab = view.getUint32(4, true);
  const ids = Array.from({ length: n }, (_, i) => view.getUint32(8 + 4 * i, true));
  const copy = bytes.slice(8 + 4 * n).buffer;
  const rows = Array.from({ length: n }, (_, i) => new Float64Array(copy, 8 * nVocab * i, nVocab));
  return { ids, rows };
}

async function main(args: string[]): Promise<void> {
  const [command, ...rest] = args;
  if (command === "dump") {
    const [source, path, out, positions = "48"] = rest;
    if (!SOURCES.includes(source as Source) || !path || !out) {
      throw new Error(`usage: dump ${SOURCES.join("|")} model.gguf out.bin [positions]`);
    }
    const text = await Deno.readTextFile(sharedPath("oracle/ppl-text.txt"));
    const ids = (await ourTokenizer(path)).encode(text).slice(0, Number(positions));
    const start = performance.now();
    const rows = await rowsOf(source as Source, path, ids);
    await writeDump(out, { ids, rows });
    const seconds = ((performance.now() - start) / 1000).toFixed(1);
    console.log(`${source}: ${rows.length} rows of ${rows[0]!.length} in ${seconds} s -> ${out}`);
  } else if (command === "compare" && rest.length >= 2) {
    const [reference, ...others] = await Promise.all(rest.map(readDump));
    const n = Math.min(...[reference!, ...others].map((d) => d.rows.length));
    const ids = reference!.ids.slice(0, n);
    const ppl = perplexityOf(reference!.rows, ids);
    console.log(`reference ${rest[0]}: ${n} positions, perplexity ${ppl}`);
    others.forEach((other, i) => {
      const worst = worstRelative(other.rows.slice(0, n), reference!.rows.slice(0, n));
      const rel = Math.abs(perplexityOf(other.rows, ids) - ppl) / ppl;
      console.log(
        `${rest[i + 1]}: worst ${worst.toExponential(2)} of the range, ppl ${rel.toExponential(2)}`,
      );
    });
  } else {
    throw new Error("usage: dump SOURCE model.gguf out.bin [positions] | compare a.bin b.bin...");
  }
}

if (import.meta.main) await main(Deno.args);
