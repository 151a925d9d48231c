/**
 * llama.cpp's tensor names for the llama, mistral and qwen2 architectures
 * (docs/gguf-format.md §4.3), in one place so no other file spells them.
 *
 * @module
 */

/** Names of the tensors outside the transformer blocks. */
export const TN = {
  /** `[n_embd, n_vocab]`: row `t` is the embedding of token `t`. */
  tokenEmbd: "token_embd.weight",
  /** `[n_embd]`: weight of the final RMSNorm. */
  outputNorm: "output_norm.weight",
  /** `[n_embd, n_vocab]`: the lm_head; absent when tied to `token_embd`. */
  output: "output.weight",
  /** `[rope_dim / 2]`: optional per-frequency RoPE divisors (Llama 3.1 scaling). */
  ropeFreqs: "rope_freqs.weight",
} as const;

/** Suffixes of the per-block tensors: the full name is `blk.${layer}.${suffix}`. */
export const BLOCK_TENSORS = {
  /** `[n_embd]`: RMSNorm weight before attention. */
  attnNorm: "attn_norm.weight",
  /** `[n_embd, n_head·head_dim]`. */
  attnQ: "attn_q.weight",
  /** `[n_embd, n_head_kv·head_dim]`. */
  attnK: "attn_k.weight",
  /** `[n_embd, n_head_kv·head_dim]`. */
  attnV: "attn_v.weight",
  /** `[n_head·head_dim]`: qwen2's query bias. */
  attnQBias: "attn_q.bias",
  /** `[n_head_kv·head_dim]`: qwen2's key bias. */
  attnKBias: "attn_k.bias",
  /** `[n_head_kv·head_dim]`: qwen2's value bias. */
  attnVBias: "attn_v.bias",
  /** `[n_head·head_dim, n_embd]`: attention output projection. */
  attnOutput: "attn_output.weight",
  /** `[n_embd]`: an attention output bias, which d2o does not support. */
  attnOutputBias: "attn_output.bias",
  /** `[n_embd]`: RMSNorm weight before the feed-forward network. */
  ffnNorm: "ffn_norm.weight",
  /** `[n_embd, n_ff]`. */
  ffnGate: "ffn_gate.weight",
  /** `[n_embd, n_ff]`. */
  ffnUp: "ffn_up.weight",
  /** `[n_ff, n_embd]`. */
  ffnDown: "ffn_down.weight",
  /** Mixture-of-experts router, which d2o does not support. */
  ffnGateInp: "ffn_gate_inp.weight",
} as const;

/** One of the per-block tensor kinds. */
export type BlockTensor = keyof typeof BLOCK_TENSORS;

/**
 * The full name of a per-block tensor.
 *
 * @example The query weight of block 3
 * ```ts
 * import assert from "node:assert/strict";
 * import { blockTensorName } from "./tensor_names.ts";
 * assert.equal(blockTensorName(3, "attnQ"), "blk.3.attn_q.weight");
 * ```
 *
 * @param layer block index, from 0
 * @param kind which tensor of the block
 * @returns e.g. `blk.3.attn_q.weight`
 */
export function blockTensorName(layer: number, kind: BlockTensor): string {
  return `blk.${layer}.${BLOCK_TENSORS[kind]}`;
}
