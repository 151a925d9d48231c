/**
 * Score snippets: how a KV policy's per-token score is made on the GPU, one
 * WGSL snippet per score source (`kernels/_score_*.wgsl`), composed into the
 * kernels that make scores the way `quant_kernel.ts` composes a weight type's
 * `deq8` into the mat-vec. An op takes its snippet as data
 * ({@linkcode KvScoreKernel}, made from the policy's score source row,
 * `src/kv/score_source.ts`): the GPU side never sees a policy.
 *
 * A snippet has two sections, each composed into one kernel:
 *
 * - `// @if prompt` … `// @end prompt` defines
 *   `fn prompt_score(g: u32, j: u32) -> f32`: the score of prompt position
 *   `j` of KV head `g` when `kv_compress` ranks the staging cache (before its
 *   max pool). It may call, from `kernels/kv_compress.wgsl`,
 *   `group_column_sum(g, j)` (the position's column sums summed over the KV
 *   head's query group, in query-head order; only when the kernel says
 *   `columnSums`) and `staging_key_norm(g, j)` (the L2 norm of the key as the
 *   staging cache stores it, in f32, elements in order), or read the staging
 *   rows itself.
 * - `// @if write` … `// @end write` defines `fn written_score(h: u32) -> f32`:
 *   the score a decode token starts with where `kv_write_slot` writes it into
 *   KV head `h`'s free slot. It may call `written_key_norm(h)` (the norm of the
 *   key as the cache stores it, from `kernels/kv_write_slot.wgsl`).
 *
 * Whether decode attention then adds each slot's attention into its score is
 * the row's too (the cache binds the slot scores to the decode attention, or
 * not). The CPU twin of each snippet is the row's `twin`, fed by the twins of
 * those helpers (`src/reference/kv/scores.ts`).
 *
 * @module
 */

import attention from "../../../kernels/_score_attention.wgsl" with { type: "text" };
import { specializeSource } from "./quant_kernel.ts";

/** A score source as the GPU ops take it: its snippet and what the snippet reads. */
export interface KvScoreKernel {
  /** The score source's name (in errors). */
  readonly name: string;
  /** The snippet's WGSL (`kernels/_score_*.wgsl`), both sections. */
  readonly code: string;
  /** Whether `prompt_score` calls `group_column_sum` (kv_compress then binds the column sums). */
  readonly columnSums: boolean;
}

/** The attention score (`kernels/_score_attention.wgsl`): what an op runs when given no score. */
export const ATTENTION_SCORE: KvScoreKernel = {
  name: "attention",
  code: attention,
  columnSums: true,
};

/** The kernel a snippet's section goes into: `prompt` (kv_compress) or `write` (kv_write_slot). */
export type KvScoreStage = "prompt" | "write";

/**
 * The section of a score snippet one kernel is composed with.
 *
 * @param kernel the score source's kernel part
 * @param stage `prompt` (kv_compress) or `write` (kv_write_slot)
 * @returns the section's WGSL
 * @throws {RangeError} when the section does not define its function
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ATTENTION_SCORE, scoreSnippet } from "./kv_score.ts";
 * assert.match(scoreSnippet(ATTENTION_SCORE, "write"), /fn written_score\(h: u32\) -> f32/);
 * assert.doesNotMatch(scoreSnippet(ATTENTION_SCORE, "write"), /prompt_score/);
 * ```
 */
export function scoreSnippet(kernel: KvScoreKernel, stage: KvScoreStage): string {
  const code = specializeSource(kernel.code, {
    prompt: stage === "prompt",
    write: stage === "write",
  });
  const fn = stage === "prompt" ? "prompt_score" : "written_score";
  if (!code.includes(`fn ${fn}(`)) {
    throw new RangeError(
      `Cannot compose the ${kernel.name} score: its snippet defines no ${fn} in its ${stage} section`,
    );
  }
  return `${code}\n`;
}
