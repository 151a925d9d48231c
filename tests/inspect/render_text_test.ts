import assert from "node:assert/strict";
import pc from "picocolors";
import { renderInspectText } from "../../src/inspect/render_text.ts";
import { sparkline } from "../../src/inspect/sparkline.ts";
import { syntheticReport } from "./_synthetic_report.ts";

const ESC = "\x1b";

/** The lines of one table: from its header line (starting with `header`) to the next blank or bold line. */
function tableRows(text: string, title: string): string[][] {
  const lines = text.split("\n");
  const start = lines.findIndex((l) => l.startsWith(title));
  const rows: string[][] = [];
  for (const line of lines.slice(start + 3)) {
    if (!/^\s*\d/.test(line)) break;
    rows.push(line.trim().split(/\s+/));
  }
  return rows;
}

Deno.test("renderInspectText() without colour has no ANSI codes, a legend, and every layer in both tables", () => {
  const report = syntheticReport({ nLayer: 4, nHeadKv: 2 });
  const text = renderInspectText(report, { color: false });
  assert.ok(!text.includes(ESC), "no escape character");
  assert.match(text, /legend: kept plain · \{merged\} · \[evicted\] · <never cached>/);
  const budgets = tableRows(text, "Layer budgets");
  assert.deepEqual(budgets.map((r) => Number(r[0])), report.plan.map((p) => p.layer));
  for (const [i, p] of report.plan.entries()) {
    assert.deepEqual(budgets[i]!.slice(1, 7), [
      p.statistic!.toFixed(3),
      p.share!.toFixed(3),
      String(p.slots),
      String(p.heavy),
      String(p.recent),
      String(p.sinks),
    ]);
  }
  const outcome = tableRows(text, "Layer outcome");
  for (const [i, l] of report.layers.entries()) {
    const min = Math.min(...l.tau);
    const max = Math.max(...l.tau);
    assert.deepEqual(outcome[i], [
      String(l.layer),
      String(l.keptCount),
      String(l.mergedCount),
      String(l.evictedCount),
      l.tau[0]!.toFixed(3),
      l.tau.at(-1)!.toFixed(3),
      min.toFixed(3),
      max.toFixed(3),
      sparkline(l.tau, 16),
    ]);
  }
});

Deno.test("renderInspectText() shows the summary: model, policy, tokens and KV memory as a share of full", () => {
  const report = syntheticReport({ promptLength: 30, generated: 5 });
  const text = renderInspectText(report, { color: false });
  const { kvBytes, fullKvBytes } = report.memory;
  assert.match(text, /model +synthetic \(synthetic\.gguf\), 3 layers × 2 KV heads/);
  assert.match(text, /policy +d2o: budget 0\.2 of the prompt, floor 128 tokens/);
  assert.match(text, /tokens +prompt 30, generated 5/);
  const share = `${(100 * kvBytes / fullKvBytes).toFixed(1)}%`;
  assert.ok(text.includes(`full (${share})`), `KV memory line shows ${share}`);
});

Deno.test("renderInspectText() scales the budget bars to the largest layer budget", () => {
  const report = syntheticReport({ nLayer: 3 });
  const lines = renderInspectText(report, { color: false, width: 80 }).split("\n");
  const barWidth = 80 - 48;
  const largest = Math.max(...report.plan.map((p) => p.slots));
  for (const p of report.plan) {
    const row = lines.find((l) => l.trim().startsWith(`${p.layer}  `) && l.includes("█"))!;
    const full = [...row].filter((ch) => ch === "█").length;
    assert.equal(full, Math.floor(barWidth * p.slots / largest), `layer ${p.layer}`);
  }
});

Deno.test("renderInspectText() marks each token by its fate and lists every merge", () => {
  const report = syntheticReport({ nLayer: 2, nHeadKv: 2, promptLength: 20, generated: 3 });
  const text = renderInspectText(report, { color: false, width: 200 });
  for (const layer of report.layers) {
    for (const head of layer.heads) {
      const title =
        `layer ${layer.layer} · KV head ${head.head}: ${head.kept.length} kept, ${head.merged.length} merged, ${head.evicted.length} evicted`;
      const at = text.indexOf(title);
      assert.ok(at >= 0, title);
      const section = text.slice(at, text.indexOf("\nlayer ", at + 1) >>> 0);
      const body = section.split("\n")[1]!;
      const m = head.merged[0]!;
      const e = head.evicted[0]!;
      const p = report.tokens.pieces;
      assert.ok(body.includes(`{${p[m.pos]}}`), "merged token in braces");
      assert.ok(body.includes(`[${p[e.pos]}]`), "evicted token in brackets");
      assert.ok(section.includes(`generated:`));
      assert.ok(section.includes(`<${p.at(-1)}>`), "the last generated token was never cached");
      const merges = section.split("\n").filter((l) => l.startsWith("    pos "));
      assert.equal(merges.length, head.merged.length);
      assert.equal(
        merges[0],
        `    pos ${m.pos} '${p[m.pos]}' → ${m.into} '${p[m.into]}' (${m.similarity.toFixed(2)})`,
      );
    }
  }
});

Deno.test("renderInspectText() with colour paints kept green, merged yellow, evicted dim red", () => {
  const report = syntheticReport({ nLayer: 1, nHeadKv: 1 });
  const text = renderInspectText(report, { color: true });
  const c = pc.createColors(true);
  const p = report.tokens.pieces;
  const head = report.layers[0]!.heads[0]!;
  assert.ok(text.includes(c.green(p[head.kept[0]!]!)));
  assert.ok(text.includes(c.yellow(p[head.merged[0]!.pos]!)));
  assert.ok(text.includes(c.dim(c.red(p[head.evicted[0]!.pos]!))));
  assert.ok(!text.includes(`{${p[head.merged[0]!.pos]}}`), "no ASCII markers with colour");
});

Deno.test("renderInspectText() wraps the token text within the width and escapes control characters", () => {
  const report = syntheticReport({
    promptLength: 60,
    generated: 2,
    pieces: { 5: "\x1b[31mred", 9: "line\n" },
  });
  const text = renderInspectText(report, { color: false, width: 60 });
  assert.ok(!text.includes(ESC), "an escape inside a piece is shown as \\x1b");
  assert.ok(text.includes("\\x1b[31mred"));
  const tokens = text.slice(text.indexOf("Tokens per layer")).split("\n");
  for (const line of tokens) assert.ok([...line].length <= 60, `line too long: ${line}`);
  const breaks = tokens.filter((l) => /line\\n[\]}]?$/.test(l));
  assert.equal(
    breaks.length,
    3 * 2,
    "a piece ending with a newline ends the line in every section",
  );
});

Deno.test("renderInspectText() shows only the selected layers and heads, and rejects unknown ones", () => {
  const report = syntheticReport({ nLayer: 3, nHeadKv: 3 });
  const text = renderInspectText(report, { color: false, layers: [2], heads: [0, 2] });
  const titles = text.split("\n").filter((l) => /^layer \d · KV head \d:/.test(l));
  assert.deepEqual(titles.map((t) => t.slice(0, t.indexOf(":"))), [
    "layer 2 · KV head 0",
    "layer 2 · KV head 2",
  ]);
  assert.throws(
    () => renderInspectText(report, { color: false, layers: [3] }),
    { name: "RangeError", message: "Cannot show layer 3: the report has 3 layers" },
  );
  assert.throws(
    () => renderInspectText(report, { color: false, heads: [5] }),
    { name: "RangeError", message: "Cannot show KV head 5 of layer 0: the layer has 3 heads" },
  );
});

Deno.test("renderInspectText() shows dashes for a policy without layer statistic or threshold", () => {
  const report = syntheticReport({ policy: "h2o", nLayer: 2 });
  const text = renderInspectText(report, { color: false });
  const budgets = tableRows(text, "Layer budgets");
  assert.deepEqual(budgets.map((r) => r.slice(1, 3)), [["–", "–"], ["–", "–"]]);
  const outcome = tableRows(text, "Layer outcome");
  assert.deepEqual(outcome.map((r) => r.slice(4)), [["–", "–", "–", "–"], ["–", "–", "–", "–"]]);
});
