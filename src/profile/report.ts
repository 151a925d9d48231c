/**
 * The output of `d2o profile`: an aligned table (default) or markdown, with a
 * speed table, a quality table (with `--text`), per-layer memory
 * (`--per-layer`) and per-step GPU time (`--kernels`); or every figure as
 * CSV (one row per result), one JSON object, or JSON lines (one per result).
 *
 * @module
 */

import { describeKvTypes } from "../gpu/ops/kv_elem.ts";
import type { ProfileReport, ProfileRow } from "./run.ts";
import { type Column, renderTable } from "./table.ts";

/** Output formats of `-o`. */
export const OUTPUT_FORMATS = ["table", "md", "csv", "json", "jsonl"] as const;

/** One output format. */
export type OutputFormat = typeof OUTPUT_FORMATS[number];

/** Options of {@linkcode formatReport}. */
export interface FormatOptions {
  /** Add the per-layer memory table (table and md). */
  readonly perLayer?: boolean;
  /** Add the per-step GPU time table (table and md). */
  readonly kernels?: boolean;
}

/**
 * Formats a report.
 *
 * @param report the results
 * @param format `table`, `md`, `csv`, `json` or `jsonl`
 * @param options extra tables for `table` and `md`
 * @returns the text for stdout, ending with a newline
 */
export function formatReport(
  report: ProfileReport,
  format: OutputFormat,
  options: FormatOptions = {},
): string {
  switch (format) {
    case "json":
      return JSON.stringify(report, null, 2) + "\n";
    case "jsonl":
      return report.rows.map((row) => JSON.stringify({ ...header(report), ...row }) + "\n")
        .join("");
    case "csv":
      return formatCsv(report);
    default:
      return formatTables(report, format, options);
  }
}

/**
 * A byte count in KiB, MiB or GiB.
 *
 * @param bytes the count
 * @returns e.g. `640.0 KiB`, `1.13 MiB`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatBytes } from "./report.ts";
 * assert.equal(formatBytes(655360), "640.0 KiB");
 * ```
 */
export function formatBytes(bytes: number): string {
  if (bytes < 2 ** 20) return `${(bytes / 2 ** 10).toFixed(1)} KiB`;
  if (bytes < 2 ** 30) return `${(bytes / 2 ** 20).toFixed(2)} MiB`;
  return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
}

/** Column names of the CSV output, in order. */
export const CSV_COLUMNS = [
  "kind",
  "model",
  "kv",
  "budget",
  "test",
  "n_prompt",
  "n_gen",
  "n_depth",
  "reps",
  "tps_mean",
  "tps_std",
  "ms_per_token_median",
  "ms_per_token_p90",
  "text_tokens",
  "prefix",
  "scored",
  "ppl",
  "mean_nll",
  "mean_kl",
  "same_top",
  "weight_bytes",
  "scratch_bytes",
  "kv_alloc_bytes",
  "kv_live_bytes",
  "kv_full_bytes",
  "error",
] as const;

function header(report: ProfileReport) {
  return {
    model: report.model.name,
    adapter: report.adapter,
    nCtx: report.nCtx,
    kvTypes: report.kvTypes,
  };
}

function formatCsv(report: ProfileReport): string {
  return csvText(
    CSV_COLUMNS,
    report.rows.map((r) => {
      const s = r.speed;
      const q = r.quality;
      const m = r.memory;
      return {
        kind: r.kind,
        model: report.model.name,
        kv: r.kv,
        budget: r.budget,
        test: r.test,
        n_prompt: r.speedTest?.nPrompt,
        n_gen: r.speedTest?.nGen,
        n_depth: r.speedTest?.depth,
        reps: s?.reps,
        tps_mean: s?.tokensPerSecond.mean,
        tps_std: s?.tokensPerSecond.std,
        ms_per_token_median: s?.msPerToken.median,
        ms_per_token_p90: s?.msPerToken.p90,
        text_tokens: r.text?.tokens,
        prefix: r.text?.prefix,
        scored: q?.scored,
        ppl: q?.perplexity,
        mean_nll: q?.meanNll,
        mean_kl: q?.meanKl,
        same_top: q?.sameTop,
        weight_bytes: m?.weightBytes,
        scratch_bytes: m?.scratchBytes,
        kv_alloc_bytes: m?.kvAllocatedBytes,
        kv_live_bytes: m?.kvLiveBytes,
        kv_full_bytes: m?.kvFullBytes,
        error: r.error,
      };
    }),
  );
}

/**
 * A CSV table: the header line, then one line per row in the columns' order.
 *
 * @param columns the column names
 * @param rows each row's cells by column (missing cells empty)
 * @returns the text, ending with a newline
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { csvText } from "./report.ts";
 * assert.equal(csvText(["a", "b"], [{ a: 1, b: "x,y" }]), 'a,b\n1,"x,y"\n');
 * ```
 */
export function csvText<C extends string>(
  columns: readonly C[],
  rows: readonly Record<C, string | number | undefined>[],
): string {
  const lines = [
    columns.join(","),
    ...rows.map((r) => columns.map((c) => csvCell(r[c])).join(",")),
  ];
  return lines.join("\n") + "\n";
}

/** One CSV cell: empty for a missing value, quoted when it holds a quote, comma or newline. */
export function csvCell(value: string | number | undefined): string {
  if (value === undefined) return "";
  const text = String(value);
  return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

const MEMORY_COLUMNS: Column[] = [
  { header: "weights", right: true },
  { header: "scratch", right: true },
  { header: "KV alloc", right: true },
  { header: "KV live", right: true },
  { header: "vs full", right: true },
];

function memoryCells(row: ProfileRow): string[] {
  const m = row.memory;
  if (!m) return MEMORY_COLUMNS.map(() => "");
  return [
    formatBytes(m.weightBytes),
    formatBytes(m.scratchBytes),
    formatBytes(m.kvAllocatedBytes),
    formatBytes(m.kvLiveBytes),
    percent(m.kvLiveBytes, m.kvFullBytes),
  ];
}

/** A row's identifying cells: kv, budget, test. */
const idOf = (r: ProfileRow) => [r.kv, r.budget, r.test];
/** Their columns. */
const ID_COLUMNS: Column[] = [{ header: "kv" }, { header: "budget" }, { header: "test" }];

function formatTables(
  report: ProfileReport,
  style: "table" | "md",
  options: FormatOptions,
): string {
  const tables = [
    speedTable(report, style),
    qualityTable(report, style),
    options.perLayer ? perLayerTable(report, style) : undefined,
    options.kernels
      ? kernelTable(report, style) ?? `no GPU timestamps on ${report.adapter}: no per-step times\n`
      : undefined,
  ].filter((t): t is string => t !== undefined);
  const notRun = notRunLines(report.rows);
  const bullet = style === "md" ? "- " : "";
  const notes = [
    `${bullet}${report.adapter}; context ${report.nCtx}; KV cache ${
      describeKvTypes(report.kvTypes)
    }; ${report.reps} timed runs after a warm-up`,
    ...notRun.map((line) => `${bullet}not run: ${line}`),
  ];
  return [...tables, notes.join("\n") + "\n"].join("\n");
}

/** The speed tests' table, if any ran. */
function speedTable(report: ProfileReport, style: "table" | "md"): string | undefined {
  const speed = report.rows.filter((r) => r.kind === "speed");
  if (speed.length === 0) return undefined;
  return renderTable(
    [
      { header: "model" },
      ...ID_COLUMNS,
      { header: "t/s", right: true },
      { header: "ms/token", right: true },
      { header: "p90 ms", right: true },
      ...MEMORY_COLUMNS,
    ],
    speed.map((r) => {
      const s = r.speed;
      const figures = s
        ? [
          `${s.tokensPerSecond.mean.toFixed(2)} ± ${s.tokensPerSecond.std.toFixed(2)}`,
          s.msPerToken.median.toFixed(3),
          s.msPerToken.p90.toFixed(3),
        ]
        : ["not run", "", ""];
      return [report.model.name, ...idOf(r), ...figures, ...memoryCells(r)];
    }),
    style,
  );
}

/** The texts' quality table, if any were scored. */
function qualityTable(report: ProfileReport, style: "table" | "md"): string | undefined {
  const quality = report.rows.filter((r) => r.kind === "quality");
  if (quality.length === 0) return undefined;
  return renderTable(
    [
      { header: "model" },
      ...ID_COLUMNS,
      { header: "prefix", right: true },
      { header: "scored", right: true },
      { header: "ppl", right: true },
      { header: "KL", right: true },
      { header: "same top", right: true },
      ...MEMORY_COLUMNS.slice(2),
    ],
    quality.map((r) => {
      const q = r.quality;
      const figures = q
        ? [q.perplexity.toFixed(6), q.meanKl.toFixed(6), `${(100 * q.sameTop).toFixed(2)}%`]
        : ["not run", "", ""];
      return [
        report.model.name,
        ...idOf(r),
        String(r.text?.prefix ?? ""),
        q ? String(q.scored) : "",
        ...figures,
        ...memoryCells(r).slice(2),
      ];
    }),
    style,
  );
}

/** `--per-layer`: KV memory per layer of every row with memory figures. */
function perLayerTable(report: ProfileReport, style: "table" | "md"): string | undefined {
  const rows = report.rows.flatMap((r) => {
    const m = r.memory;
    if (!m) return [];
    const fullPerLayer = m.kvFullBytes / Math.max(1, m.layers.length);
    return m.layers.map((l, i) => [
      ...idOf(r),
      String(i),
      formatBytes(l.allocatedBytes),
      formatBytes(l.liveBytes),
      percent(l.liveBytes, fullPerLayer),
    ]);
  });
  if (rows.length === 0) return undefined;
  return renderTable(
    [...ID_COLUMNS, { header: "layer", right: true }, ...MEMORY_COLUMNS.slice(2)],
    rows,
    style,
  );
}

/** `--kernels`: GPU time per forward-pass step; undefined without timestamps. */
function kernelTable(report: ProfileReport, style: "table" | "md"): string | undefined {
  const rows = report.rows.flatMap((r) => {
    const total = (r.kernels ?? []).reduce((a, k) => a + k.ms, 0);
    return (r.kernels ?? []).map((
      k,
    ) => [...idOf(r), k.name, k.ms.toFixed(4), percent(k.ms, total)]);
  });
  if (rows.length === 0) return undefined;
  return renderTable(
    [
      ...ID_COLUMNS,
      { header: "step" },
      { header: "GPU ms/token", right: true },
      { header: "share", right: true },
    ],
    rows,
    style,
  );
}

/** One line per configuration and error: `h2o 0.1 (pp512, tg128): message`. */
function notRunLines(rows: readonly ProfileRow[]): string[] {
  const groups = new Map<string, string[]>();
  for (const r of rows) {
    if (r.error === undefined) continue;
    const key = `${r.kv} ${r.budget}\u0000${r.error}`;
    groups.set(key, [...groups.get(key) ?? [], r.test]);
  }
  return [...groups].map(([key, tests]) => {
    const [config, error] = key.split("\u0000");
    return `${config} (${tests.join(", ")}): ${error}`;
  });
}

function percent(part: number, whole: number): string {
  return whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : "";
}
