/**
 * The `--html` page of `d2o compress-inspect`: one self-contained document
 * (inline CSS, inline SVG, a few lines of inline JS; no network) with a
 * layers × tokens heatmap per KV head, the layer budgets as a bar chart and
 * the merge threshold τ per layer as curves. Without JS every head's heatmap
 * is shown one under another; with JS a selector shows one head at a time.
 *
 * @module
 */

import { summarizeInspect } from "./summary.ts";
import { type CellFate, type TokenCell, tokenFates, visiblePiece } from "./token_fates.ts";
import type { InspectLayer, InspectLayerPlan, InspectReport } from "./types.ts";

/** The `generator` meta tag of every page, by which `--html` recognises a page it may replace. */
export const INSPECT_HTML_GENERATOR = "d2o compress-inspect";

/** Fill colours of the four fates, shared by the heatmap and its legend. */
const FATES: readonly { fate: CellFate; label: string; color: string }[] = [
  { fate: "kept", label: "kept", color: "#2f9e44" },
  { fate: "merged", label: "merged", color: "#f2b705" },
  { fate: "evicted", label: "evicted", color: "#c92a2a" },
  { fate: "unseen", label: "never seen", color: "#dee2e6" },
];

const CSS = `
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#212529;background:#fff}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}h3{font-size:1em;margin:1em 0 .3em}
dl.summary{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}
dl.summary dt{font-weight:600}dl.summary dd{margin:0}
.legend span{display:inline-block;margin-right:1.2em}
.swatch{display:inline-block;width:.9em;height:.9em;vertical-align:-.1em;margin-right:.3em;border:1px solid #adb5bd}
.scroll{overflow-x:auto;max-width:100%}
table.heatmap{border-collapse:collapse;font-size:11px}
table.heatmap td{width:9px;min-width:9px;height:14px;padding:0;border:1px solid #fff}
table.heatmap th{font-weight:normal;padding:0 .3em;white-space:nowrap}
table.heatmap thead th.tok{writing-mode:vertical-rl;max-height:6em;overflow:hidden;padding:.2em 0;font-family:ui-monospace,monospace}
table.heatmap .gen{border-left:2px solid #495057}
${FATES.map((f) => `td.${f.fate}{background:${f.color}}`).join("")}
table.layers{border-collapse:collapse}table.layers th,table.layers td{padding:.15em .6em;text-align:right;border-bottom:1px solid #dee2e6}
svg text{font:12px system-ui,sans-serif;fill:#212529}
`;

const SCRIPT = `
(function(){
  var select=document.getElementById("head-select");
  var sections=document.querySelectorAll("section.heatmap-head");
  function show(){
    for(var i=0;i<sections.length;i++){sections[i].hidden=sections[i].getAttribute("data-head")!==select.value;}
  }
  select.addEventListener("change",show);
  document.getElementById("head-picker").hidden=false;
  document.documentElement.className="js";
  show();
})();
`;

/**
 * Renders a report as one self-contained HTML page. All text from the report
 * (token pieces, model name, file name) is escaped.
 *
 * @param report the inspect report
 * @returns the HTML document
 * @throws {RangeError} when a head's positions are outside the sequence or have two fates
 */
export function renderInspectHtml(report: InspectReport): string {
  const title = `d2o compress-inspect: ${report.model.name}, ${report.kv.policy}`;
  const nHeads = Math.max(0, ...report.layers.map((l) => l.heads.length));
  const headIndices = Array.from({ length: nHeads }, (_, i) => i);
  return [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<meta name="generator" content="${INSPECT_HTML_GENERATOR}">`,
    `<title>${esc(title)}</title>`,
    `<style>${CSS}</style>`,
    "</head>",
    "<body>",
    `<h1>${esc(title)}</h1>`,
    summary(report),
    "<h2>Tokens per layer and KV head</h2>",
    legend(),
    '<p id="head-picker" hidden><label>KV head <select id="head-select">' +
    headIndices.map((h) => `<option value="${h}">${h}</option>`).join("") +
    "</select></label></p>",
    ...headIndices.map((h) => heatmap(report, h)),
    "<h2>Layer budgets</h2>",
    "<p>C: tokens kept per KV head; bars scaled to the largest budget.</p>",
    budgetChart(report.plan),
    layerTable(report.plan, report.layers),
    "<h2>Merge threshold τ per layer</h2>",
    tauChart(report.layers),
    `<script>${SCRIPT}</script>`,
    "</body>",
    "</html>",
    "",
  ].join("\n");
}

function summary(report: InspectReport): string {
  const items = summarizeInspect(report)
    .map(({ label, value }) => `<dt>${esc(label)}</dt><dd>${esc(value)}</dd>`)
    .join("");
  return `<dl class="summary">${items}</dl>`;
}

function legend(): string {
  const items = FATES.map((f) =>
    `<span><span class="swatch" style="background:${f.color}"></span>${f.label}</span>`
  );
  return `<p class="legend">${
    items.join("")
  }<span>│ generated tokens start at the dark rule</span></p>`;
}

/** One KV head's heatmap: a row per layer, a column per token. */
function heatmap(report: InspectReport, head: number): string {
  const pieces = report.tokens.pieces;
  const header = pieces.map((piece, pos) => {
    const cls = pos === report.promptLength ? "tok gen" : "tok";
    return `<th class="${cls}" title="${esc(`pos ${pos} ${quote(piece)}`)}">${
      esc(visiblePiece(piece))
    }</th>`;
  }).join("");
  const rows = report.layers.map((layer, i) => {
    const cells = tokenFates(report, i, head).map((cell) =>
      `<td class="${cell.fate}${cell.pos === report.promptLength ? " gen" : ""}" title="${
        esc(cellTitle(report, layer.layer, cell))
      }"></td>`
    ).join("");
    return `<tr><th scope="row">${layer.layer}</th>${cells}</tr>`;
  }).join("\n");
  return [
    `<section class="heatmap-head" data-head="${head}">`,
    `<h3>KV head ${head}</h3>`,
    '<div class="scroll">',
    `<table class="heatmap" id="heatmap-head-${head}">`,
    `<thead><tr><th scope="col">layer</th>${header}</tr></thead>`,
    `<tbody>${rows}</tbody>`,
    "</table>",
    "</div>",
    "</section>",
  ].join("\n");
}

function cellTitle(report: InspectReport, layer: number, cell: TokenCell): string {
  const where = `L${layer} pos ${cell.pos} ${quote(cell.piece)}${
    cell.generated ? " (generated)" : ""
  }`;
  if (cell.merge !== null) {
    const m = cell.merge;
    return `${where}: merged → ${m.into} ${quote(report.tokens.pieces[m.into] ?? "")} (${
      m.similarity.toFixed(2)
    }, step ${m.step})`;
  }
  if (cell.eviction !== null) {
    const e = cell.eviction;
    const best = e.similarity === null ? "" : `, similarity ${e.similarity.toFixed(2)}`;
    return `${where}: evicted (step ${e.step}${best})`;
  }
  return `${where}: ${cell.fate === "unseen" ? "never seen" : cell.fate}`;
}

/** Horizontal bars of the layer budgets C, with α and F as labels. */
function budgetChart(plan: readonly InspectLayerPlan[]): string {
  const row = 20;
  const left = 60;
  const barMax = 420;
  const width = left + barMax + 200;
  const height = row * plan.length + 10;
  const largest = Math.max(1, ...plan.map((p) => p.slots));
  const bars = plan.map((p, i) => {
    const y = 5 + i * row;
    const w = (barMax * p.slots / largest).toFixed(1);
    const extra = [
      `C ${p.slots}`,
      p.share === null ? "" : `α ${p.share.toFixed(3)}`,
      p.statistic === null ? "" : `F ${p.statistic.toFixed(3)}`,
      p.compressed ? "" : "not compressed",
    ].filter((s) => s !== "").join(" · ");
    return `<g><title>${esc(`layer ${p.layer}: ${extra}`)}</title>` +
      `<text x="${left - 8}" y="${y + 14}" text-anchor="end">L${p.layer}</text>` +
      `<rect x="${left}" y="${y + 2}" width="${w}" height="${row - 4}" fill="${
        p.compressed ? "#1c7ed6" : "#adb5bd"
      }"></rect>` +
      `<text x="${left + Number(w) + 6}" y="${y + 14}">${esc(extra)}</text></g>`;
  });
  return `<svg class="budgets" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="Layer budgets">${
    bars.join("")
  }</svg>`;
}

/** The numbers behind the charts, one row per layer. */
function layerTable(plan: readonly InspectLayerPlan[], layers: readonly InspectLayer[]): string {
  const head = [
    "layer",
    "F",
    "α",
    "C",
    "N",
    "M",
    "sinks",
    "kept",
    "merged",
    "evicted",
    "τ first",
    "τ last",
  ];
  const rows = plan.map((p, i) => {
    const l = layers[i];
    const tau = l?.tau ?? [];
    const cells = [
      String(p.layer),
      fixed(p.statistic),
      fixed(p.share),
      String(p.slots),
      String(p.heavy),
      String(p.recent),
      String(p.sinks),
      String(l?.keptCount ?? "–"),
      String(l?.mergedCount ?? "–"),
      String(l?.evictedCount ?? "–"),
      fixed(tau[0] ?? null),
      fixed(tau[tau.length - 1] ?? null),
    ];
    return `<tr>${cells.map((c) => `<td>${esc(c)}</td>`).join("")}</tr>`;
  });
  return `<table class="layers"><thead><tr>${
    head.map((h) => `<th scope="col">${h}</th>`).join("")
  }</tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

/** τ after each compression event, one polyline per layer on shared axes. */
function tauChart(layers: readonly InspectLayer[]): string {
  const series = layers.filter((l) => l.tau.length > 0);
  if (series.length === 0) {
    return "<p>No threshold: this policy does not merge evicted tokens.</p>";
  }
  const all = series.flatMap((l) => [...l.tau]);
  let lo = Math.min(...all);
  let hi = Math.max(...all);
  if (hi === lo) [lo, hi] = [lo - 0.5, hi + 0.5];
  const steps = Math.max(...series.map((l) => l.tau.length));
  const [left, top, plotW, plotH] = [60, 10, 520, 200];
  const width = left + plotW + 110;
  const height = top + plotH + 40;
  const x = (i: number) => (left + (steps === 1 ? 0 : plotW * i / (steps - 1))).toFixed(1);
  const y = (v: number) => (top + plotH * (hi - v) / (hi - lo)).toFixed(1);
  const color = (i: number) => `hsl(${Math.round(i * 360 / layers.length)} 70% 42%)`;
  const lines = series.map((l) => {
    const c = color(l.layer);
    const points = l.tau.map((v, i) => `${x(i)},${y(v)}`).join(" ");
    const last = l.tau.length - 1;
    return `<g><title>${
      esc(`layer ${l.layer}: τ ${l.tau[0]!.toFixed(3)} → ${l.tau[last]!.toFixed(3)}`)
    }</title><polyline fill="none" stroke="${c}" stroke-width="1.5" points="${points}"></polyline>` +
      `<circle cx="${x(last)}" cy="${y(l.tau[last]!)}" r="2.5" fill="${c}"></circle></g>`;
  });
  const keys = series.map((l, i) =>
    `<text x="${left + plotW + 14}" y="${top + 12 + i * 15}" style="fill:${
      color(l.layer)
    }">layer ${l.layer}</text>`
  );
  const axes =
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="#868e96"></line>` +
    `<line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${
      top + plotH
    }" stroke="#868e96"></line>` +
    `<text x="${left - 6}" y="${top + 10}" text-anchor="end">${hi.toFixed(3)}</text>` +
    `<text x="${left - 6}" y="${top + plotH}" text-anchor="end">${lo.toFixed(3)}</text>` +
    `<text x="${left}" y="${top + plotH + 16}">0</text>` +
    `<text x="${left + plotW}" y="${top + plotH + 16}" text-anchor="end">${steps - 1}</text>` +
    `<text x="${left + plotW / 2}" y="${
      top + plotH + 32
    }" text-anchor="middle">compression step (0 = prefill)</text>`;
  return `<svg class="tau" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="Merge threshold per layer">${axes}${
    lines.join("")
  }${keys.join("")}</svg>`;
}

function fixed(value: number | null): string {
  return value === null ? "–" : value.toFixed(3);
}

function quote(piece: string): string {
  return `'${visiblePiece(piece)}'`;
}

/** Escapes text for HTML content and double- or single-quoted attributes. */
function esc(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}
