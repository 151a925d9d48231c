/**
 * A summary of a GGUF model for `d2o info`: read leniently from metadata, so
 * it also describes files whose architecture d2o cannot run.
 *
 * @module
 */

import { ropeStyleOf } from "./architecture.ts";
import { ggmlTypeName } from "../gguf/ggml_type.ts";
import { archKey, KV, NO_TOKEN_ID } from "../gguf/keys.ts";
import type { GgufMetadata } from "../gguf/metadata.ts";
import type { GgufFile } from "../gguf/reader.ts";
import type { GgufArray } from "../gguf/types.ts";

/** What `d2o info` reports about a model file (`--json` prints this object). */
export interface ModelInfo {
  /** Path as given. */
  file: string;
  /** File size in bytes. */
  fileBytes: number;
  /** GGUF version. */
  ggufVersion: number;
  /** `general.name`, when present. */
  name: string | null;
  /** `general.architecture`. */
  architecture: string;
  /** Total number of weights (elements of every tensor). */
  parameterCount: number;
  /** Trained context length. */
  contextLength: number | null;
  /** Embedding (hidden) size. */
  embeddingLength: number | null;
  /** Number of transformer blocks. */
  layers: number | null;
  /** Query heads. */
  heads: number | null;
  /** Key/value heads (equal to `heads` without GQA). */
  kvHeads: number | null;
  /** Size of one attention head. */
  headSize: number | null;
  /** Feed-forward hidden size. */
  feedForwardLength: number | null;
  /** RoPE frequency base. */
  ropeFreqBase: number;
  /** RoPE dimensions rotated per head. */
  ropeDimensions: number | null;
  /** `norm` (adjacent pairs, llama) or `neox` (halves, qwen2). */
  ropeStyle: "norm" | "neox";
  /** RMSNorm epsilon. */
  rmsNormEpsilon: number | null;
  /** Number of tokens in the vocabulary. */
  vocabularySize: number | null;
  /** `tokenizer.ggml.model`, e.g. `llama` or `gpt2`. */
  tokenizerModel: string | null;
  /** `tokenizer.ggml.pre`, the pre-tokenizer of BPE vocabularies. */
  tokenizerPre: string | null;
  /** Beginning-of-sequence token id. */
  bosTokenId: number | null;
  /** End-of-sequence token id. */
  eosTokenId: number | null;
  /** Whether the output projection reuses the token embedding. */
  tiedEmbeddings: boolean;
  /** Number of tensors. */
  tensorCount: number;
  /** Tensor count and bytes per tensor type, e.g. `{ F32: { tensors: 48, bytes: 1171200 } }`. */
  tensorTypes: Record<string, { tensors: number; bytes: number }>;
}

/** A value stored as f32, shown with the digits an f32 holds (1e-5, not 0.0000099999997). */
function f32(x: number | null): number | null {
  return x === null ? null : Number(x.toPrecision(7));
}

function tokenId(meta: GgufMetadata, key: string): number | null {
  const id = meta.optionalNumber(key);
  return id === undefined || id === NO_TOKEN_ID || id < 0 ? null : id;
}

/**
 * Summarises an open GGUF file.
 *
 * @param file an open GGUF file
 * @returns the figures `d2o info` prints
 */
export function describeModel(file: GgufFile): ModelInfo {
  const meta = file.metadata;
  const arch = meta.optionalString(KV.architecture) ?? "unknown";
  const num = (template: string) => meta.optionalNumber(archKey(template, arch)) ?? null;
  const heads = num(KV.attentionHeadCount);
  const embd = num(KV.embeddingLength);
  const keyLength = num(KV.attentionKeyLength);
  const headSize = keyLength ?? (heads && embd ? embd / heads : null);
  const tokens = meta.get(KV.tokenizerTokens) as GgufArray | undefined;
  const embedding = file.tensor("token_embd.weight");
  const tensorTypes: ModelInfo["tensorTypes"] = {};
  let parameterCount = 0;
  for (const t of file.tensors) {
    parameterCount += t.elementCount;
    const entry = tensorTypes[ggmlTypeName(t.type)] ??= { tensors: 0, bytes: 0 };
    entry.tensors++;
    entry.bytes += t.byteSize;
  }
  return {
    file: file.path ?? "",
    fileBytes: file.fileSize,
    ggufVersion: file.version,
    name: meta.optionalString(KV.name) ?? null,
    architecture: arch,
    parameterCount,
    contextLength: num(KV.contextLength),
    embeddingLength: embd,
    layers: num(KV.blockCount),
    heads,
    kvHeads: num(KV.attentionHeadCountKv) ?? heads,
    headSize,
    feedForwardLength: num(KV.feedForwardLength),
    ropeFreqBase: f32(num(KV.ropeFreqBase)) ?? 10000,
    ropeDimensions: num(KV.ropeDimensionCount) ?? headSize,
    ropeStyle: ropeStyleOf(arch),
    rmsNormEpsilon: f32(num(KV.attentionLayerNormRmsEpsilon)),
    vocabularySize: num(KV.vocabSize) ?? tokens?.values.length ?? embedding?.dims[1] ?? null,
    tokenizerModel: meta.optionalString(KV.tokenizerModel) ?? null,
    tokenizerPre: meta.optionalString(KV.tokenizerPre) ?? null,
    bosTokenId: tokenId(meta, KV.tokenizerBosId),
    eosTokenId: tokenId(meta, KV.tokenizerEosId),
    tiedEmbeddings: file.tensor("output.weight") === undefined,
    tensorCount: file.tensors.length,
    tensorTypes,
  };
}

function human(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${bytes} B` : `${v.toFixed(2)} ${units[u]}`;
}

function count(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} K`;
  return String(n);
}

/**
 * Formats a model summary as aligned `key: value` lines with a tensor-type histogram.
 *
 * @param info a summary from {@linkcode describeModel}
 */
export function formatModelInfo(info: ModelInfo): string {
  const show = (v: unknown) => (v === null || v === undefined ? "-" : String(v));
  const rows: [string, string][] = [
    ["file", `${info.file} (${human(info.fileBytes)}, GGUF v${info.ggufVersion})`],
    ["name", show(info.name)],
    ["architecture", info.architecture],
    ["parameters", `${count(info.parameterCount)} (${info.parameterCount})`],
    ["context length", show(info.contextLength)],
    ["embedding size", show(info.embeddingLength)],
    ["layers", show(info.layers)],
    ["heads", show(info.heads)],
    ["KV heads", show(info.kvHeads)],
    ["head size", show(info.headSize)],
    ["FFN size", show(info.feedForwardLength)],
    [
      "RoPE",
      `${info.ropeStyle}, base ${info.ropeFreqBase}, ${show(info.ropeDimensions)} dims`,
    ],
    ["RMSNorm epsilon", show(info.rmsNormEpsilon)],
    ["vocabulary", show(info.vocabularySize)],
    [
      "tokenizer",
      `${show(info.tokenizerModel)}${info.tokenizerPre ? ` (pre: ${info.tokenizerPre})` : ""}`,
    ],
    ["BOS / EOS", `${show(info.bosTokenId)} / ${show(info.eosTokenId)}`],
    ["tied embeddings", info.tiedEmbeddings ? "yes" : "no"],
    ["tensors", String(info.tensorCount)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`);
  const types = Object.entries(info.tensorTypes).sort((a, b) => b[1].bytes - a[1].bytes);
  const total = types.reduce((s, [, v]) => s + v.bytes, 0) || 1;
  const nameWidth = Math.max(...types.map(([t]) => t.length));
  lines.push("", "tensor types:");
  for (const [type, { tensors, bytes }] of types) {
    const share = bytes / total;
    const bar = "█".repeat(Math.max(1, Math.round(share * 30)));
    lines.push(
      `  ${type.padEnd(nameWidth)}  ${String(tensors).padStart(5)} tensors  ${
        human(bytes).padStart(11)
      }  ${(share * 100).toFixed(1).padStart(5)}%  ${bar}`,
    );
  }
  return lines.join("\n") + "\n";
}
