/**
 * Where a policy's scores come from: one row per score source, named by
 * `KvGpuSpec.score`, the way quant types are a table of snippets. A row
 * gives everything a score is on the GPU and on the CPU:
 *
 * - its WGSL snippet (`kernels/_score_*.wgsl`; the contract is
 *   `src/gpu/ops/kv_score.ts`): the prompt's per-(KV head, position) score
 *   that `kv_compress` ranks, and the score a new token gets where
 *   `kv_write_slot` writes it while decoding;
 * - which prompt queries' attention the prefill sums per key for the snippet
 *   (`columnSums`: every query, the policy's observation window, or none, so
 *   the prompt runs no column sums);
 * - whether decode attention adds each slot's attention into its score;
 * - the snippet's CPU twin (`twin`), fed with the twins of the kernels'
 *   helpers (`src/reference/kv/scores.ts`).
 *
 * The sources:
 * - `none`: no score (the selection only keeps sinks and the window);
 * - `attention`: every prompt query's attention summed per key (H2O, D2O),
 *   then each decode step's added;
 * - `window`: the attention of the last `window` prompt queries only (SnapKV);
 * - `knorm`: minus the key's L2 norm (at bfloat16 precision), at the prompt
 *   and for each new token; no attention (kvpress's KnormPress).
 *
 * A new source is a snippet and a row here; the GPU ops, the cache
 * (`policy_store.ts`) and the twins read the row, never its name.
 *
 * @module
 */

import attention from "../../kernels/_score_attention.wgsl" with { type: "text" };
import knorm from "../../kernels/_score_knorm.wgsl" with { type: "text" };
import none from "../../kernels/_score_none.wgsl" with { type: "text" };
import type { KvScoreKernel } from "../gpu/ops/kv_score.ts";
import { bf16ToF32, f32ToBf16 } from "../gguf/half.ts";

/** What a score snippet reads, as its CPU twin gets it (the twins of the kernels' helpers). */
export interface KvScoreReads {
  /**
   * `group_column_sum`: the position's column sums summed over the KV head's
   * query group (f32; 0 when the source takes none). Prompt only.
   */
  readonly columnSum: number;
  /** `staging_key_norm` / `written_key_norm`: the L2 norm of the key as the cache stores it (f32). */
  readonly keyNorm: number;
}

/** The CPU twin of a score snippet: each function returns what its WGSL function returns, in f32. */
export interface KvScoreTwin {
  /** `prompt_score` of one prompt position. */
  prompt(reads: KvScoreReads): number;
  /** `written_score` of a decode token. */
  written(reads: Pick<KvScoreReads, "keyNorm">): number;
}

/** One score source. */
export interface KvScoreSourceEntry {
  /** What the README's policy table says about it. */
  readonly summary: string;
  /** Its WGSL snippet (`kernels/_score_*.wgsl`: a `prompt` and a `write` section). */
  readonly snippet: string;
  /**
   * Which prompt queries' attention the prefill sums per key for the snippet:
   * `all`, the policy's observation window (`KvGpuSpec.window`), or null
   * when the snippet reads no column sums.
   */
  readonly columnSums: "all" | "window" | null;
  /** Whether decode attention adds each slot's attention into its score. */
  readonly decodeAdds: boolean;
  /** The snippet's CPU twin. */
  readonly twin: KvScoreTwin;
}

/** A number rounded to bfloat16, to nearest even (the knorm snippet's `knorm_bf16`). */
const bf16 = (x: number) => bf16ToF32(f32ToBf16(x));

const ATTENTION_TWIN: KvScoreTwin = { prompt: (r) => r.columnSum, written: () => 0 };

/** Every score source, by name. */
export const KV_SCORE_SOURCES = {
  none: {
    summary: "—",
    snippet: none,
    columnSums: null,
    decodeAdds: true,
    twin: { prompt: () => 0, written: () => 0 },
  },
  attention: {
    summary: "attention from every prompt query, then accumulated per decode step",
    snippet: attention,
    columnSums: "all",
    decodeAdds: true,
    twin: ATTENTION_TWIN,
  },
  window: {
    summary: "attention from the last `--snap-window` prompt queries, max-pooled",
    snippet: attention,
    columnSums: "window",
    decodeAdds: true,
    twin: ATTENTION_TWIN,
  },
  knorm: {
    summary: "minus the key's L2 norm, also each new token's (no attention)",
    snippet: knorm,
    columnSums: null,
    decodeAdds: false,
    twin: { prompt: (r) => -bf16(r.keyNorm), written: (r) => -bf16(r.keyNorm) },
  },
} as const satisfies Readonly<Record<string, KvScoreSourceEntry>>;

/** The name of a score source (a key of {@linkcode KV_SCORE_SOURCES}). */
export type KvScoreSource = keyof typeof KV_SCORE_SOURCES;

/**
 * The row of a score source.
 *
 * @param source its name
 * @returns its row
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { scoreSource } from "./score_source.ts";
 * assert.equal(scoreSource("attention").decodeAdds, true);
 * assert.equal(scoreSource("window").twin.prompt({ columnSum: 2, keyNorm: 5 }), 2);
 * ```
 */
export function scoreSource(source: KvScoreSource): KvScoreSourceEntry {
  return KV_SCORE_SOURCES[source];
}

/**
 * The kernel part of a score source, as the GPU ops take it.
 *
 * @param source its name
 * @returns its snippet and whether the snippet reads column sums
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { scoreKernel } from "./score_source.ts";
 * assert.equal(scoreKernel("window").columnSums, true);
 * assert.equal(scoreKernel("none").columnSums, false);
 * ```
 */
export function scoreKernel(source: KvScoreSource): KvScoreKernel {
  const row = scoreSource(source);
  return { name: source, code: row.snippet, columnSums: row.columnSums !== null };
}

/**
 * The first prompt position whose query's attention the prefill column sums
 * take for a score source, or null when the source takes none.
 *
 * @param spec the policy's score source and observation window
 * @param promptLength `T`: prompt tokens
 * @returns 0 (every query), `T − window` (clipped at 0), or null
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { columnSumsFrom } from "./score_source.ts";
 * assert.equal(columnSumsFrom({ score: "window", window: 32 }, 100), 68);
 * assert.equal(columnSumsFrom({ score: "attention", window: 0 }, 100), 0);
 * assert.equal(columnSumsFrom({ score: "none", window: 0 }, 100), null);
 * ```
 */
export function columnSumsFrom(
  spec: { readonly score: KvScoreSource; readonly window: number },
  promptLength: number,
): number | null {
  switch (scoreSource(spec.score).columnSums) {
    case "all":
      return 0;
    case "window":
      return Math.max(0, promptLength - spec.window);
    case null:
      return null;
  }
}
