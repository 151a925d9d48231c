/**
 * The terminal view of `d2o compress-inspect`: a summary header, the layer
 * budgets as a bar chart, each layer's outcome and threshold trajectory, and
 * per layer and KV head the sequence's text with every token marked by its
 * fate (colours on a terminal, ASCII markers otherwise).
 *
 * @module
 */

import pc from "picocolors";
import { renderTable } from "../profile/table.ts";
import { sparkline } from "./sparkline.ts";
import { summarizeInspect } from "./summary.ts";
import { type CellFate, type TokenCell, tokenFates, visiblePiece } from "./token_fates.ts";
import type { InspectLayer, InspectLayerPlan, InspectReport } from "./types.ts";

/** Options of {@linkcode renderInspectText}. */
export interface InspectTextOptions {
  /** Colour the output with ANSI codes (a TTY); otherwise mark fates with ASCII brackets. */
  readonly color: boolean;
  /** Terminal width in columns for wrapping and chart sizes; default 80. */
  readonly width?: number;
  /** Layers whose tokens to show (indices into `report.layers`); default all. */
  readonly layers?: readonly number[];
  /** KV heads whose tokens to show; default all. */
  readonly heads?: readonly number[];
}

const BAR_FULL = "█";
const BAR_PARTS = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];

/**
 * Renders a report for the terminal. With `color: false` the output holds no
 * ANSI escape codes: kept tokens are plain, merged ones `{in braces}`,
 * evicted ones `[in brackets]` and never-cached ones `<in angles>`, as the
 * legend line says.
 *
 * @param report the inspect report
 * @param options colour, width and the layers and heads whose tokens to show
 * @returns the text, ending with a newline
 * @throws {RangeError} when a selected layer or head does not exist, or a
 * head's positions are outside the sequence or have two fates
 */
export function renderInspectText(report: InspectReport, options: InspectTextOptions): string {
  const width = Math.max(40, options.width ?? 80);
  const c = pc.createColors(options.color);
  const layerIndices = options.layers ?? report.layers.map((_, i) => i);
  const out: string[] = [c.bold("d2o compress-inspect")];
  const summary = summarizeInspect(report);
  const labelWidth = Math.max(...summary.map((s) => s.label.length));
  for (const { label, value } of summary) out.push(`  ${label.padEnd(labelWidth)}  ${value}`);

  out.push(
    "",
    c.bold("Layer budgets") + " (C: tokens kept per KV head; bar scaled to the largest)",
  );
  out.push(budgetTable(report.plan, width));
  out.push(c.bold("Layer outcome") + " (counts summed over KV heads; τ: merge threshold)");
  out.push(outcomeTable(report.layers, width));

  out.push(c.bold("Tokens per layer and KV head"));
  out.push(legend(options.color, c));
  for (const layer of layerIndices) {
    const entry = report.layers[layer];
    if (entry === undefined) {
      throw new RangeError(
        `Cannot show layer ${layer}: the report has ${report.layers.length} layers`,
      );
    }
    const heads = options.heads ?? entry.heads.map((_, i) => i);
    for (const head of heads) {
      const cells = tokenFates(report, layer, head);
      const count = (fate: CellFate) => cells.filter((cell) => cell.fate === fate).length;
      out.push(
        "",
        c.bold(`layer ${entry.layer} · KV head ${entry.heads[head]!.head}`) +
          `: ${count("kept")} kept, ${count("merged")} merged, ${count("evicted")} evicted`,
      );
      out.push(...tokenText(cells, width, options.color, c));
      const merges = cells.filter((cell) => cell.merge !== null);
      if (merges.length > 0) {
        out.push("  merges:");
        for (const cell of merges) {
          const m = cell.merge!;
          const into = report.tokens.pieces[m.into] ?? "";
          out.push(
            `    pos ${m.pos} ${quote(cell.piece)} → ${m.into} ${quote(into)} (${
              m.similarity.toFixed(2)
            })`,
          );
        }
      }
    }
  }
  return out.join("\n") + "\n";
}

type Colors = ReturnType<typeof pc.createColors>;

function budgetTable(plan: readonly InspectLayerPlan[], width: number): string {
  const barWidth = Math.min(40, Math.max(8, width - 48));
  const largest = Math.max(1, ...plan.map((p) => p.slots));
  const rows = plan.map((p) => [
    String(p.layer),
    optional(p.statistic),
    optional(p.share),
    String(p.slots),
    String(p.heavy),
    String(p.recent),
    String(p.sinks),
    bar(p.slots / largest, barWidth) + (p.compressed ? "" : " (not compressed)"),
  ]);
  return renderTable(
    [
      { header: "layer", right: true },
      { header: "F", right: true },
      { header: "α", right: true },
      { header: "C", right: true },
      { header: "N", right: true },
      { header: "M", right: true },
      { header: "sinks", right: true },
      { header: "budget" },
    ],
    rows,
    "table",
  );
}

function outcomeTable(layers: readonly InspectLayer[], width: number): string {
  const sparkWidth = Math.min(48, Math.max(8, width - 64));
  const rows = layers.map((l) => {
    const tau = l.tau;
    const stats = tau.length === 0 ? ["–", "–", "–", "–", ""] : [
      tau[0]!.toFixed(3),
      tau[tau.length - 1]!.toFixed(3),
      Math.min(...tau).toFixed(3),
      Math.max(...tau).toFixed(3),
      sparkline(tau, sparkWidth),
    ];
    return [
      String(l.layer),
      String(l.keptCount),
      String(l.mergedCount),
      String(l.evictedCount),
      ...stats,
    ];
  });
  return renderTable(
    [
      { header: "layer", right: true },
      { header: "kept", right: true },
      { header: "merged", right: true },
      { header: "evicted", right: true },
      { header: "τ first", right: true },
      { header: "τ last", right: true },
      { header: "τ min", right: true },
      { header: "τ max", right: true },
      { header: "τ over steps" },
    ],
    rows,
    "table",
  );
}

function legend(color: boolean, c: Colors): string {
  if (color) {
    return `legend: ${c.green("kept")} · ${c.yellow("merged")} · ${c.dim(c.red("evicted"))} · ${
      c.blue("never cached")
    }`;
  }
  return "legend: kept plain · {merged} · [evicted] · <never cached>";
}

/** The tokens as wrapped lines: the prompt, then (if any) a `generated:` block. */
function tokenText(
  cells: readonly TokenCell[],
  width: number,
  color: boolean,
  c: Colors,
): string[] {
  const prompt = cells.filter((cell) => !cell.generated);
  const generated = cells.filter((cell) => cell.generated);
  const lines = wrap(prompt, width, color, c);
  if (generated.length > 0) lines.push("  generated:", ...wrap(generated, width, color, c));
  return lines;
}

/** Wraps marked tokens into indented lines of at most `width` visible columns; a piece ending a line (`\n`) breaks it. */
function wrap(cells: readonly TokenCell[], width: number, color: boolean, c: Colors): string[] {
  const indent = "  ";
  const lines: string[] = [];
  let line = "";
  let column = 0;
  const flush = () => {
    lines.push(indent + line);
    line = "";
    column = 0;
  };
  for (const cell of cells) {
    const text = visiblePiece(cell.piece);
    const plain = color ? text : markers(cell.fate, text);
    const visible = [...plain].length;
    if (column > 0 && indent.length + column + visible > width) flush();
    line += color ? paint(cell.fate, text, c) : plain;
    column += visible;
    if (cell.piece.endsWith("\n")) flush();
  }
  if (column > 0 || lines.length === 0) flush();
  return lines;
}

function markers(fate: CellFate, text: string): string {
  if (fate === "merged") return `{${text}}`;
  if (fate === "evicted") return `[${text}]`;
  if (fate === "unseen") return `<${text}>`;
  return text;
}

function paint(fate: CellFate, text: string, c: Colors): string {
  if (fate === "merged") return c.yellow(text);
  if (fate === "evicted") return c.dim(c.red(text));
  if (fate === "unseen") return c.blue(text);
  return c.green(text);
}

/** A horizontal bar of `fraction` × `width` columns with eighth-block precision. */
function bar(fraction: number, width: number): string {
  const eighths = Math.round(fraction * width * 8);
  return BAR_FULL.repeat(Math.floor(eighths / 8)) + BAR_PARTS[eighths % 8];
}

function optional(value: number | null): string {
  return value === null ? "–" : value.toFixed(3);
}

function quote(piece: string): string {
  return `'${visiblePiece(piece)}'`;
}
