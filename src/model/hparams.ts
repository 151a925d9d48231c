/**
 * Model hyper-parameters read from GGUF metadata and the tensor table, with
 * llama.cpp's defaults, and validated before anything is allocated.
 *
 * @module
 */

import { ARCHITECTURES, type RopeStyle, RUNNABLE_ARCHITECTURES } from "./architecture.ts";
import { InputError, UnsupportedError } from "../errors.ts";
import { archKey, KV } from "../gguf/keys.ts";
import type { GgufMetadata } from "../gguf/metadata.ts";
import type { GgufTensorInfo } from "../gguf/types.ts";
import { blockTensorName, TN } from "./tensor_names.ts";
import { checkTensorShapes } from "./tensor_shapes.ts";
import { checkNoExperts, checkSizeHParams } from "./hparam_bounds.ts";

/** Architectures d2o runs. */
export type ModelArch = "llama" | "mistral" | "qwen2";

export type { RopeStyle } from "./architecture.ts";

/** Linear RoPE scaling: positions are divided by `factor`. */
export interface RopeScaling {
  /** The only scaling kind d2o supports. */
  readonly type: "linear";
  /** Context extension factor (> 0, ≠ 1). */
  readonly factor: number;
}

/** Everything the forward pass needs to know about a model's shape. */
export interface ModelHParams {
  /** Architecture (a llama file whose name says Mistral is reported as `mistral`). */
  readonly arch: ModelArch;
  /** `general.name`, else `general.basename`, else the architecture. */
  readonly name: string;
  /** Vocabulary size: rows of `token_embd` and of the logits. */
  readonly nVocab: number;
  /** Context length the model was trained with. */
  readonly nCtxTrain: number;
  /** Hidden size. */
  readonly nEmbd: number;
  /** Number of transformer blocks. */
  readonly nLayer: number;
  /** Query heads. */
  readonly nHead: number;
  /** Key/value heads (divides `nHead`; fewer means grouped-query attention). */
  readonly nHeadKv: number;
  /** Size of one attention head. */
  readonly headDim: number;
  /** Feed-forward hidden size. */
  readonly nFf: number;
  /** Rotated dimensions per head (even, at most `headDim`). */
  readonly ropeDim: number;
  /** RoPE pairing style. */
  readonly ropeStyle: RopeStyle;
  /** RoPE θ base. */
  readonly ropeFreqBase: number;
  /** Linear RoPE scaling, when the model asks for it. */
  readonly ropeScaling?: RopeScaling;
  /** Whether `rope_freqs.weight` (per-frequency divisors) is present. */
  readonly hasRopeFreqs: boolean;
  /** RMSNorm epsilon. */
  readonly rmsEps: number;
  /** Whether the lm_head reuses `token_embd.weight` (no `output.weight`). */
  readonly tiedEmbeddings: boolean;
  /** Whether the Q, K and V projections have biases (qwen2). */
  readonly hasQkvBias: boolean;
}

/** Where the metadata comes from, for messages. */
export interface ReadHParamsOptions {
  /** File name or path of the model. */
  readonly file?: string;
}

const DEFAULT_ROPE_FREQ_BASE = 10000;

/**
 * Reads and validates a model's hyper-parameters, then checks every tensor
 * the forward pass uses against them (names and dims).
 *
 * @example Hyper-parameters of a tiny llama described in memory
 * ```ts
 * import assert from "node:assert/strict";
 * import { GgufMetadata } from "../gguf/metadata.ts";
 * import { type GgufEntry, GgufValueType } from "../gguf/types.ts";
 * import { readHParams } from "./hparams.ts";
 * import { GgmlType } from "../gguf/ggml_type.ts";
 * const u32 = (value: number) => ({ type: GgufValueType.U32, value });
 * const meta = new GgufMetadata(new Map<string, GgufEntry>([
 *   ["general.architecture", { type: GgufValueType.STRING, value: "llama" }],
 *   ["llama.context_length", u32(64)],
 *   ["llama.embedding_length", u32(8)],
 *   ["llama.block_count", u32(1)],
 *   ["llama.feed_forward_length", u32(16)],
 *   ["llama.attention.head_count", u32(2)],
 *   ["llama.attention.layer_norm_rms_epsilon", { type: GgufValueType.F32, value: 1e-5 }],
 * ]));
 * const tensor = (name: string, dims: number[]) => ({
 *   name, dims, type: GgmlType.F32, relativeOffset: 0, offset: 0, elementCount: 0, byteSize: 0,
 * });
 * const block = [["attn_norm", [8]], ["attn_q", [8, 8]], ["attn_k", [8, 8]], ["attn_v", [8, 8]],
 *   ["attn_output", [8, 8]], ["ffn_norm", [8]], ["ffn_gate", [8, 16]], ["ffn_up", [8, 16]],
 *   ["ffn_down", [16, 8]]] as const;
 * const hp = readHParams(meta, [
 *   tensor("token_embd.weight", [8, 10]),
 *   tensor("output_norm.weight", [8]),
 *   ...block.map(([name, dims]) => tensor(`blk.0.${name}.weight`, [...dims])),
 * ]);
 * assert.equal(hp.headDim, 4); // embedding_length / head_count
 * assert.equal(hp.nHeadKv, 2); // no head_count_kv: as many as the query heads
 * assert.equal(hp.nVocab, 10); // token_embd's second dim
 * assert.ok(hp.tiedEmbeddings); // no output.weight
 * ```
 *
 * @param metadata the file's metadata
 * @param tensors the file's tensor table
 * @param options file name for messages
 * @returns the hyper-parameters
 * @throws {UnsupportedError} for an architecture, RoPE scaling or block layout d2o does not run
 * @throws {InputError} for missing or inconsistent keys and missing or misshapen tensors
 */
export function readHParams(
  metadata: GgufMetadata,
  tensors: readonly GgufTensorInfo[],
  options: ReadHParamsOptions = {},
): ModelHParams {
  const where = options.file === undefined ? "Cannot load model" : `Cannot load "${options.file}"`;
  const invalid = (detail: string) => new InputError(`${where}: ${detail}`);
  const unsupported = (detail: string) => new UnsupportedError(`${where}: ${detail}`);
  const byName = new Map(tensors.map((t) => [t.name, t]));

  const { fileArch, arch, name } = readArchitecture(metadata, invalid, unsupported);
  const read = archNumbers(metadata, fileArch, invalid);
  const { key } = read;
  const nCtxTrain = read.count(KV.contextLength);
  const nEmbd = read.count(KV.embeddingLength);
  const nFf = read.count(KV.feedForwardLength);
  const nLayer = metadata.optionalNumber(key(KV.blockCount));
  if (nLayer === undefined) throw invalid(`metadata key "${key(KV.blockCount)}" is missing`);
  if (!Number.isInteger(nLayer) || nLayer < 0) {
    throw invalid(`metadata key "${key(KV.blockCount)}" is ${nLayer}, expected an integer ≥ 1`);
  }
  const heads = readHeads(read, nEmbd, invalid, unsupported);
  const { nHead, nHeadKv, headDim, keyLength } = heads;
  const ropeFreqBase = read.positive(KV.ropeFreqBase, DEFAULT_ROPE_FREQ_BASE);
  const rmsEps = read.positive(KV.attentionLayerNormRmsEpsilon);
  const ropeScaling = readRopeScaling(metadata, fileArch, invalid, unsupported);

  const embd = byName.get(TN.tokenEmbd);
  if (!embd) throw invalid(`tensor "${TN.tokenEmbd}" is missing`);
  const nVocab = read.optionalCount(KV.vocabSize) ??
    metadata.optionalStringArray(KV.tokenizerTokens)?.length ?? embd.dims[1] ?? 1;
  checkNoExperts(metadata.optionalNumber(key(KV.expertCount)), key(KV.expertCount), where);
  checkSizeHParams(
    { nLayer, nEmbd, nHead, nHeadKv, headDim, nFf, nVocab, nCtxTrain },
    {
      nLayer: key(KV.blockCount),
      nEmbd: key(KV.embeddingLength),
      nHead: key(KV.attentionHeadCount),
      nHeadKv: key(KV.attentionHeadCountKv),
      headDim: keyLength === undefined
        ? `${key(KV.embeddingLength)} / ${key(KV.attentionHeadCount)}`
        : key(KV.attentionKeyLength),
      nFf: key(KV.feedForwardLength),
      nVocab: metadata.optionalNumber(key(KV.vocabSize)) === undefined
        ? KV.tokenizerTokens
        : key(KV.vocabSize),
      nCtxTrain: key(KV.contextLength),
    },
    byName,
    where,
  );
  const table = ARCHITECTURES.get(arch)!;
  const hasQkvBias = checkBlockLayout(byName, nLayer, table.qkvBias, invalid, unsupported);

  const hp: ModelHParams = {
    arch,
    name,
    nVocab,
    nCtxTrain,
    nEmbd,
    nLayer,
    nHead,
    nHeadKv,
    headDim,
    nFf,
    ropeDim: heads.ropeDim,
    ropeStyle: table.ropeStyle,
    ropeFreqBase,
    ...(ropeScaling ? { ropeScaling } : {}),
    hasRopeFreqs: byName.has(TN.ropeFreqs),
    rmsEps,
    tiedEmbeddings: !byName.has(TN.output),
    hasQkvBias,
  };
  checkTensorShapes(hp, byName, where);
  return hp;
}

/** The file's architecture (refused unless d2o runs it), the one d2o runs it as, and the model name. */
function readArchitecture(
  metadata: GgufMetadata,
  invalid: (detail: string) => InputError,
  unsupported: (detail: string) => UnsupportedError,
): { fileArch: string; arch: ModelArch; name: string } {
  const fileArch = metadata.optionalString(KV.architecture);
  if (fileArch === undefined) throw invalid(`metadata key "${KV.architecture}" is missing`);
  if (!ARCHITECTURES.get(fileArch)?.runs) {
    throw unsupported(
      `unsupported architecture "${fileArch}": d2o runs ${RUNNABLE_ARCHITECTURES}`,
    );
  }
  const name = metadata.optionalString(KV.name) ?? metadata.optionalString(KV.basename) ??
    fileArch;
  const arch = (fileArch === "llama" && /mistral/i.test(name) ? "mistral" : fileArch) as ModelArch;
  return { fileArch, arch, name };
}

/** Readers of the architecture's numeric keys, each refusing a missing or out-of-range value. */
interface ArchNumbers {
  /** The full key name of a `{arch}.…` template. */
  key(template: string): string;
  /** A positive integer, or undefined when the key is absent. */
  optionalCount(template: string): number | undefined;
  /** A positive integer that must be present. */
  count(template: string): number;
  /** A positive finite number, or the fallback when absent. */
  positive(template: string, fallback?: number): number;
}

function archNumbers(
  metadata: GgufMetadata,
  fileArch: string,
  invalid: (detail: string) => InputError,
): ArchNumbers {
  const key = (template: string) => archKey(template, fileArch);
  const optionalCount = (template: string): number | undefined => {
    const value = metadata.optionalNumber(key(template));
    if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
      throw invalid(`metadata key "${key(template)}" is ${value}, expected a positive integer`);
    }
    return value;
  };
  return {
    key,
    optionalCount,
    count(template) {
      const value = optionalCount(template);
      if (value === undefined) throw invalid(`metadata key "${key(template)}" is missing`);
      return value;
    },
    positive(template, fallback) {
      const value = metadata.optionalNumber(key(template)) ?? fallback;
      if (value === undefined) throw invalid(`metadata key "${key(template)}" is missing`);
      if (!(value > 0) || !Number.isFinite(value)) {
        throw invalid(`metadata key "${key(template)}" is ${value}, expected a positive number`);
      }
      return value;
    },
  };
}

/** Head counts, head size and RoPE width, checked against each other and the embedding. */
function readHeads(
  read: ArchNumbers,
  nEmbd: number,
  invalid: (detail: string) => InputError,
  unsupported: (detail: string) => UnsupportedError,
): { nHead: number; nHeadKv: number; headDim: number; keyLength?: number; ropeDim: number } {
  const nHead = read.count(KV.attentionHeadCount);
  const nHeadKv = read.optionalCount(KV.attentionHeadCountKv) ?? nHead;
  if (nHead % nHeadKv !== 0) {
    throw invalid(`${nHead} attention heads cannot be shared by ${nHeadKv} KV heads`);
  }
  const keyLength = read.optionalCount(KV.attentionKeyLength);
  if (keyLength === undefined && nEmbd % nHead !== 0) {
    throw invalid(`embedding length ${nEmbd} is not a multiple of the ${nHead} attention heads`);
  }
  const headDim = keyLength ?? nEmbd / nHead;
  const valueLength = read.optionalCount(KV.attentionValueLength);
  if (valueLength !== undefined && valueLength !== headDim) {
    throw unsupported(
      `value head size ${valueLength} differs from key head size ${headDim}, which d2o does not run`,
    );
  }
  const ropeDim = read.optionalCount(KV.ropeDimensionCount) ?? headDim;
  if (ropeDim % 2 !== 0 || ropeDim > headDim) {
    throw invalid(
      `RoPE dimension count ${ropeDim} must be even and at most the head size ${headDim}`,
    );
  }
  return { nHead, nHeadKv, headDim, ...(keyLength === undefined ? {} : { keyLength }), ropeDim };
}

/** Refuses block tensors d2o does not run; returns whether the blocks have Q/K/V biases. */
function checkBlockLayout(
  byName: ReadonlyMap<string, GgufTensorInfo>,
  nLayer: number,
  archHasQkvBias: boolean,
  invalid: (detail: string) => InputError,
  unsupported: (detail: string) => UnsupportedError,
): boolean {
  if (byName.has(blockTensorName(0, "attnOutputBias"))) {
    throw unsupported(
      `tensor "${blockTensorName(0, "attnOutputBias")}": d2o does not run an attention output bias`,
    );
  }
  if (byName.has(blockTensorName(0, "ffnGateInp"))) {
    throw unsupported(
      `tensor "${blockTensorName(0, "ffnGateInp")}": d2o does not run mixture-of-experts models`,
    );
  }
  const hasQkvBias = nLayer > 0 && byName.has(blockTensorName(0, "attnQBias"));
  if (archHasQkvBias && nLayer > 0 && !hasQkvBias) {
    throw invalid(
      `tensor "${blockTensorName(0, "attnQBias")}" is missing (qwen2 has Q/K/V biases)`,
    );
  }
  return hasQkvBias;
}

/** llama.cpp's rule: the factor comes from `rope.scaling.factor` or `rope.scale_linear`; type defaults to linear. */
function readRopeScaling(
  metadata: GgufMetadata,
  arch: string,
  invalid: (detail: string) => InputError,
  unsupported: (detail: string) => UnsupportedError,
): RopeScaling | undefined {
  const type = metadata.optionalString(archKey(KV.ropeScalingType, arch)) ?? "linear";
  const factor = metadata.optionalNumber(archKey(KV.ropeScalingFactor, arch)) ??
    metadata.optionalNumber(archKey(KV.ropeScaleLinear, arch));
  if (type === "none" || factor === undefined || factor === 0 || factor === 1) return undefined;
  if (type !== "linear") {
    throw unsupported(`RoPE scaling "${type}" is not supported: d2o runs none and linear`);
  }
  if (!(factor > 0) || !Number.isFinite(factor)) {
    throw invalid(`RoPE scaling factor ${factor} is not a positive number`);
  }
  return { type: "linear", factor };
}
