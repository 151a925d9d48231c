/**
 * The summary header of `d2o compress-inspect` (model, policy, budget, prompt
 * length, KV memory against the full cache), as label/value pairs that both
 * renderers lay out.
 *
 * @module
 */

import { describeKvTypes } from "../gpu/ops/kv_elem.ts";
import { describeKvOptions, kvCompresses } from "../kv/describe.ts";
import { formatBytes } from "../profile/report.ts";
import type { InspectReport } from "./types.ts";

/** One summary line. */
export interface SummaryItem {
  /** Short label, e.g. `KV memory`. */
  readonly label: string;
  /** The value as text. */
  readonly value: string;
}

/**
 * Summarises a report in four lines: model, policy with its options, tokens,
 * and KV memory as a percentage of the full cache.
 *
 * @param report the inspect report
 * @returns the summary items, in display order
 */
export function summarizeInspect(report: InspectReport): SummaryItem[] {
  const { model } = report;
  const generated = report.tokens.pieces.length - report.promptLength;
  return [
    {
      label: "model",
      value: `${model.name} (${model.file}), ${model.nLayer} layers × ${model.nHeadKv} KV heads`,
    },
    { label: "policy", value: describeKvOptions(report.kv) },
    { label: "tokens", value: `prompt ${report.promptLength}, generated ${generated}` },
    { label: "KV memory", value: describeMemory(report) },
  ];
}

/**
 * The KV memory line. A compressing policy's cache is compared with the full
 * cache of the same tokens; the full policy allocates the whole context up
 * front, so only what it holds is compared (allocated vs these tokens would
 * read as thousands of per cent).
 */
function describeMemory({ kv, memory }: InspectReport): string {
  const { kvBytes, kvLiveBytes, fullKvBytes } = memory;
  const types = `; ${describeKvTypes(memory.kvTypes)} cache`;
  if (!kvCompresses(kv)) {
    return `${formatBytes(kvBytes)} allocated for the whole context (uncompressed); live ` +
      `${formatBytes(kvLiveBytes)} (${percent(kvLiveBytes, fullKvBytes)} of full)${types}`;
  }
  return `${formatBytes(kvBytes)} of ${formatBytes(fullKvBytes)} full (${
    percent(kvBytes, fullKvBytes)
  }); live ${formatBytes(kvLiveBytes)} (${percent(kvLiveBytes, fullKvBytes)})${types}`;
}

/**
 * Formats `part / whole` as a percentage with one decimal, or `–` when the
 * whole is zero.
 *
 * @param part the numerator
 * @param whole the denominator
 * @returns e.g. `20.0%`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { percent } from "./summary.ts";
 * assert.equal(percent(1, 8), "12.5%");
 * assert.equal(percent(1, 0), "–");
 * ```
 */
export function percent(part: number, whole: number): string {
  return whole > 0 ? `${(100 * part / whole).toFixed(1)}%` : "–";
}
