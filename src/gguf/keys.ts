/**
 * GGUF metadata key names, as one table of constants (after llama.cpp's
 * `LLM_KV_NAMES`). Keys containing `%s` are per-architecture templates: pass
 * them through {@linkcode archKey} with the value of `general.architecture`.
 *
 * @module
 */

/** Metadata key names and per-architecture key templates. */
export const KV = {
  // general.*
  architecture: "general.architecture",
  quantizationVersion: "general.quantization_version",
  alignment: "general.alignment",
  fileType: "general.file_type",
  name: "general.name",
  basename: "general.basename",
  sizeLabel: "general.size_label",
  author: "general.author",
  version: "general.version",
  description: "general.description",
  license: "general.license",
  url: "general.url",
  sourceUrl: "general.source.url",

  // {arch}.*
  vocabSize: "%s.vocab_size",
  contextLength: "%s.context_length",
  embeddingLength: "%s.embedding_length",
  blockCount: "%s.block_count",
  feedForwardLength: "%s.feed_forward_length",
  expertCount: "%s.expert_count",
  expertUsedCount: "%s.expert_used_count",
  attentionHeadCount: "%s.attention.head_count",
  attentionHeadCountKv: "%s.attention.head_count_kv",
  attentionKeyLength: "%s.attention.key_length",
  attentionValueLength: "%s.attention.value_length",
  attentionLayerNormEpsilon: "%s.attention.layer_norm_epsilon",
  attentionLayerNormRmsEpsilon: "%s.attention.layer_norm_rms_epsilon",
  attentionSlidingWindow: "%s.attention.sliding_window",
  ropeDimensionCount: "%s.rope.dimension_count",
  ropeFreqBase: "%s.rope.freq_base",
  ropeScaleLinear: "%s.rope.scale_linear",
  ropeScalingType: "%s.rope.scaling.type",
  ropeScalingFactor: "%s.rope.scaling.factor",
  ropeScalingAttnFactor: "%s.rope.scaling.attn_factor",
  ropeScalingOriginalContextLength: "%s.rope.scaling.original_context_length",
  ropeScalingFinetuned: "%s.rope.scaling.finetuned",

  // tokenizer.*
  tokenizerModel: "tokenizer.ggml.model",
  tokenizerPre: "tokenizer.ggml.pre",
  tokenizerTokens: "tokenizer.ggml.tokens",
  tokenizerScores: "tokenizer.ggml.scores",
  tokenizerTokenType: "tokenizer.ggml.token_type",
  tokenizerMerges: "tokenizer.ggml.merges",
  tokenizerBosId: "tokenizer.ggml.bos_token_id",
  tokenizerEosId: "tokenizer.ggml.eos_token_id",
  tokenizerUnkId: "tokenizer.ggml.unknown_token_id",
  tokenizerPadId: "tokenizer.ggml.padding_token_id",
  /** llama.cpp's spelling ("seperator"); see {@linkcode KV.tokenizerSepIdSpec}. */
  tokenizerSepId: "tokenizer.ggml.seperator_token_id",
  /** The spelling of the GGUF spec text; accept both. */
  tokenizerSepIdSpec: "tokenizer.ggml.separator_token_id",
  tokenizerEotId: "tokenizer.ggml.eot_token_id",
  tokenizerEomId: "tokenizer.ggml.eom_token_id",
  tokenizerAddBos: "tokenizer.ggml.add_bos_token",
  tokenizerAddEos: "tokenizer.ggml.add_eos_token",
  tokenizerAddSpacePrefix: "tokenizer.ggml.add_space_prefix",
  tokenizerChatTemplate: "tokenizer.chat_template",
  tokenizerHfJson: "tokenizer.huggingface.json",
} as const;

/** A special token id meaning "no such token" (u32 max), seen e.g. for the separator id. */
export const NO_TOKEN_ID = 0xFFFFFFFF;

/**
 * Fills the architecture into a per-architecture key template.
 *
 * @example The context length key of a llama model
 * ```ts
 * import assert from "node:assert/strict";
 * import { archKey, KV } from "./keys.ts";
 * assert.equal(archKey(KV.contextLength, "llama"), "llama.context_length");
 * ```
 *
 * @param template a key from {@linkcode KV} containing `%s`
 * @param arch value of `general.architecture`, e.g. `"llama"`
 * @returns the full key
 * @throws {RangeError} if the template has no `%s`
 */
export function archKey(template: string, arch: string): string {
  if (!template.includes("%s")) {
    throw new RangeError(`Cannot fill key template "${template}": it has no %s placeholder`);
  }
  return template.replace("%s", arch);
}
