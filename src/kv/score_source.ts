/**
 * Where a policy's prefill scores come from: one row per score source, named
 * by `KvGpuSpec.score`. A policy picks a source by its name; the README's
 * policy table describes a source from its row.
 *
 * - `none`: no scores (the selection only keeps sinks and the window);
 * - `attention`: every prompt query's attention summed per key (H2O, D2O),
 *   then each decode step's added;
 * - `window`: the attention of the last `window` prompt queries only (SnapKV).
 *
 * @module
 */

/** One score source. */
export interface KvScoreSourceEntry {
  /** What the README's policy table says about it. */
  readonly summary: string;
}

/** Every score source, by name. */
export const KV_SCORE_SOURCES = {
  none: { summary: "—" },
  attention: { summary: "attention from every prompt query, then accumulated per decode step" },
  window: { summary: "attention from the last `--snap-window` prompt queries, max-pooled" },
} as const satisfies Readonly<Record<string, KvScoreSourceEntry>>;

/** The name of a score source (a key of {@linkcode KV_SCORE_SOURCES}). */
export type KvScoreSource = keyof typeof KV_SCORE_SOURCES;
