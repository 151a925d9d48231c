/**
 * The output of `profile -b` / `profile --kv-memory`: the batch speed table
 * (aligned or markdown), one CSV row per result, one JSON object, or JSON
 * lines — the formats of the other profile tables. Under a memory cap the
 * table adds each configuration's aggregate speed as a multiple of the full
 * cache's at the same test.
 *
 * @module
 */

import { describeKvTypes } from "../gpu/ops/kv_elem.ts";
import type { BatchReport, BatchRow } from "./batch_run.ts";
import type { OutputFormat } from "./report.ts";
import { csvText, formatBytes } from "./report.ts";
import { renderTable } from "./table.ts";

/** Column names of the batch CSV output, in order. */
export const BATCH_CSV_COLUMNS = [
  "model",
  "kv",
  "budget",
  "test",
  "n_prompt",
  "n_gen",
  "batch",
  "reps",
  "agg_tps_mean",
  "agg_tps_std",
  "seq_tps_mean",
  "ms_per_step_median",
  "ms_per_step_p90",
  "kv_bytes",
  "kv_charge_bytes",
  "kv_memory_bytes",
  "error",
] as const;

/**
 * Formats a batch report.
 *
 * @param report the results
 * @param format `table`, `md`, `csv`, `json` or `jsonl`
 * @returns the text for stdout, ending with a newline
 */
export function formatBatchReport(
  report: BatchReport,
  format: OutputFormat,
  options: { kernels?: boolean } = {},
): string {
  switch (format) {
    case "json":
      return JSON.stringify(report, null, 2) + "\n";
    case "jsonl":
      return report.rows.map((row) =>
        JSON.stringify({
          model: report.model.name,
          adapter: report.adapter,
          kvTypes: report.kvTypes,
          ...row,
        }) + "\n"
      ).join("");
    case "csv":
      return batchCsv(report);
    default:
      return batchTable(report, format) + (options.kernels ? kernelTable(report, format) : "");
  }
}

function batchCsv(report: BatchReport): string {
  return csvText(
    BATCH_CSV_COLUMNS,
    report.rows.map((r) => ({
      model: report.model.name,
      kv: r.kv,
      budget: r.budget,
      test: r.test,
      n_prompt: r.nPrompt,
      n_gen: r.nGen,
      batch: r.batch,
      reps: report.reps,
      agg_tps_mean: r.aggregate?.mean,
      agg_tps_std: r.aggregate?.std,
      seq_tps_mean: r.perSequence?.mean,
      ms_per_step_median: r.msPerStep?.median,
      ms_per_step_p90: r.msPerStep?.p90,
      kv_bytes: r.kvBytes,
      kv_charge_bytes: r.kvCharge,
      kv_memory_bytes: report.kvMemory,
      error: r.error,
    })),
  );
}

function batchTable(report: BatchReport, style: "table" | "md"): string {
  const capped = report.kvMemory !== undefined;
  const full = (r: BatchRow) =>
    report.rows.find((f) => f.budget === "-" && f.test === r.test && f.aggregate);
  const rows = report.rows.map((r) => {
    const a = r.aggregate;
    const base = capped
      ? full(r)?.aggregate?.mean
      : report.rows.find((b) =>
        b.kv === r.kv && b.budget === r.budget && b.test === r.test && b.batch === 1 && b.aggregate
      )?.aggregate?.mean;
    return [
      report.model.name,
      r.kv,
      r.budget,
      r.test,
      String(r.batch),
      a ? `${a.mean.toFixed(2)} ± ${a.std.toFixed(2)}` : r.error ? "not run" : "",
      base && a ? `${(a.mean / base).toFixed(2)}×` : "",
      r.perSequence ? r.perSequence.mean.toFixed(2) : "",
      r.msPerStep ? r.msPerStep.median.toFixed(2) : "",
      r.kvBytes === undefined ? "" : formatBytes(r.kvBytes),
      formatBytes(r.kvCharge),
    ];
  });
  const table = renderTable(
    [
      { header: "model" },
      { header: "kv" },
      { header: "budget" },
      { header: "test" },
      { header: "batch", right: true },
      { header: "aggregate t/s", right: true },
      { header: capped ? "vs full" : "vs batch 1", right: true },
      { header: "t/s per seq", right: true },
      { header: "ms/step", right: true },
      { header: "KV alloc", right: true },
      { header: "KV per seq", right: true },
    ],
    rows,
    style,
  );
  const errors = report.rows.filter((r) => r.error).map((r) =>
    `${r.kv} ${r.budget} ${r.test} ×${r.batch}: ${r.error}`
  );
  const footer = [
    `${report.adapter}; KV cache ${describeKvTypes(report.kvTypes)}; ${report.reps} timed runs ` +
    `of -n decode steps of all sequences after one warm-up step, ` +
    `prompts prefilled once, untimed` +
    (capped ? `; KV memory cap ${formatBytes(report.kvMemory!)}: the largest batch that fits` : ""),
    ...errors,
  ];
  return table + "\n" + footer.join("\n") + "\n";
}

/** `--kernels`: GPU time per decode step by forward-pass step, and per token of the batch. */
function kernelTable(report: BatchReport, style: "table" | "md"): string {
  const rows = report.rows.flatMap((r) =>
    (r.kernels ?? []).map((k) => [
      r.kv,
      r.budget,
      r.test,
      String(r.batch),
      k.name,
      k.ms.toFixed(3),
      (k.ms / r.batch).toFixed(3),
    ])
  );
  if (rows.length === 0) return "";
  return "\n" + renderTable(
    [
      { header: "kv" },
      { header: "budget" },
      { header: "test" },
      { header: "batch", right: true },
      { header: "step" },
      { header: "ms/step", right: true },
      { header: "ms/token", right: true },
    ],
    rows,
    style,
  );
}
