/**
 * The summary header of `d2o compress-inspect` (model, policy, budget, prompt
 * length, KV memory against the full cache), as label/value pairs that both
 * renderers lay out.
 *
 * @module
 */

import type { KvOptions } from "../kv/options.ts";
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
 * @example
 * ```ts ignore
 * import { summarizeInspect } from "./summary.ts";
 * for (const { label, value } of summarizeInspect(report)) console.log(label, value);
 * // KV memory 12.0 KiB of 60.0 KiB full (20.0%); live 11.5 KiB (19.2%)
 * ```
 */
export function summarizeInspect(report: InspectReport): SummaryItem[] {
  const { model, memory } = report;
  const generated = report.tokens.pieces.length - report.promptLength;
  return [
    {
      label: "model",
      value: `${model.name} (${model.file}), ${model.nLayer} layers × ${model.nHeadKv} KV heads`,
    },
    { label: "policy", value: describePolicy(report.kv) },
    { label: "tokens", value: `prompt ${report.promptLength}, generated ${generated}` },
    {
      label: "KV memory",
      value: `${formatBytes(memory.kvBytes)} of ${formatBytes(memory.fullKvBytes)} full (${
        percent(memory.kvBytes, memory.fullKvBytes)
      }); live ${formatBytes(memory.kvLiveBytes)} (${
        percent(memory.kvLiveBytes, memory.fullKvBytes)
      })`,
    },
  ];
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
 * import { percent } from "./summary.ts";
 * console.log(percent(1, 8)); // 12.5%
 * ```
 */
export function percent(part: number, whole: number): string {
  return whole > 0 ? `${(100 * part / whole).toFixed(1)}%` : "–";
}

function describePolicy(kv: KvOptions): string {
  if (kv.policy === "full") return "full (no compression)";
  const budget = kv.budget.kind === "fraction"
    ? `budget ${kv.budget.value} of the prompt`
    : `budget ${kv.budget.value} tokens per layer`;
  const parts = [`${budget}, floor ${kv.kvMin} tokens`, `${kv.sinks} sinks`];
  if (kv.policy !== "streaming") parts.push(`recent ratio ${kv.recentRatio}`);
  if (kv.policy === "d2o") {
    parts.push(
      `β ${kv.beta}`,
      `${kv.mergeRule} merge rule`,
      `${kv.layerStatistic} statistic`,
    );
  }
  if (kv.skipLayers !== null && kv.skipLayers.length > 0) {
    parts.push(`skip layers ${kv.skipLayers.join(",")}`);
  }
  if (kv.parity) parts.push("parity");
  return `${kv.policy}: ${parts.join(", ")}`;
}
