import assert from "node:assert/strict";
import { BROWSER_REQUIRED, findBrowser, headlessArgs } from "./_browser.ts";
import { renderInspectHtml } from "../../src/inspect/render_html.ts";
import type { InspectReport } from "../../src/inspect/types.ts";
import { syntheticReport } from "./_synthetic_report.ts";

const HOSTILE = `<script>alert("x&'y")</script>`;

/** The HTML of one KV head's heatmap section. */
function headSection(html: string, head: number): string {
  const start = html.indexOf(`<section class="heatmap-head" data-head="${head}"`);
  assert.ok(start >= 0, `section of head ${head}`);
  return html.slice(start, html.indexOf("</section>", start));
}

function count(text: string, pattern: RegExp): number {
  return [...text.matchAll(pattern)].length;
}

/** Checks what a page shows of a report; `html` may be the file or a browser's DOM. */
function assertPageStructure(html: string, report: InspectReport): void {
  const n = report.tokens.pieces.length;
  for (const [h] of report.layers[0]!.heads.entries()) {
    const section = headSection(html, h);
    assert.match(section, new RegExp(`<table class="heatmap" id="heatmap-head-${h}">`));
    assert.equal(count(section, /<tr>/g), 1 + report.layers.length, "header row + one per layer");
    assert.equal(count(section, /<td /g), report.layers.length * n, "one cell per layer × token");
    const fate = (f: string) => count(section, new RegExp(`<td class="${f}[ "]`, "g"));
    const heads = report.layers.map((l) => l.heads[h]!);
    assert.equal(fate("kept"), heads.reduce((s, x) => s + x.kept.length, 0));
    assert.equal(fate("merged"), heads.reduce((s, x) => s + x.merged.length, 0));
    assert.equal(fate("evicted"), heads.reduce((s, x) => s + x.evicted.length, 0));
    const seen = heads.reduce((s, x) => s + x.kept.length + x.merged.length + x.evicted.length, 0);
    assert.equal(fate("unseen"), report.layers.length * n - seen);
  }
  assert.match(html, /<svg class="budgets"/);
  assert.equal(count(html, /<rect /g), report.plan.length, "one budget bar per layer");
  assert.match(html, /<svg class="tau"/);
  assert.equal(count(html, /<polyline /g), report.layers.length, "one τ curve per layer");
}

Deno.test("renderInspectHtml() draws a heatmap per KV head with a cell per layer and token, and both charts", () => {
  const report = syntheticReport({ nLayer: 4, nHeadKv: 3, promptLength: 30, generated: 6 });
  const html = renderInspectHtml(report);
  assert.ok(html.startsWith("<!doctype html>\n"));
  assertPageStructure(html, report);
  for (const label of ["kept", "merged", "evicted", "never seen"]) {
    assert.match(html, new RegExp(`<p class="legend">.*class="swatch"[^>]*></span>${label}<`));
  }
  const opts = count(html, /<option value="\d+">/g);
  assert.equal(opts, 3, "the head selector lists every KV head");
  for (const tag of ["table", "svg", "section", "tr", "g", "p", "dl"]) {
    assert.equal(
      count(html, new RegExp(`<${tag}[ >]`, "g")),
      count(html, new RegExp(`</${tag}>`, "g")),
      `<${tag}> balanced`,
    );
  }
});

Deno.test("renderInspectHtml() titles each cell with the piece, position, fate and merge target", () => {
  const report = syntheticReport({ nLayer: 1, nHeadKv: 1 });
  const html = renderInspectHtml(report);
  const head = report.layers[0]!.heads[0]!;
  const m = head.merged[0]!;
  const e = head.evicted[0]!;
  const p = report.tokens.pieces;
  const merged = `L0 pos ${m.pos} &#39;${p[m.pos]}&#39;: merged → ${m.into} &#39;${
    p[m.into]
  }&#39; (${m.similarity.toFixed(2)}, step ${m.step})`;
  assert.ok(html.includes(`<td class="merged" title="${merged}">`), merged);
  const evicted = `L0 pos ${e.pos} &#39;${p[e.pos]}&#39;: evicted (step ${e.step}, similarity ${
    e.similarity!.toFixed(2)
  })`;
  assert.ok(html.includes(`<td class="evicted" title="${evicted}">`), evicted);
  const last = p.length - 1;
  assert.ok(
    html.includes(`title="L0 pos ${last} &#39;${p[last]}&#39; (generated): never seen"`),
  );
});

Deno.test("renderInspectHtml() escapes token pieces and names, and loads nothing from the network", () => {
  const base = syntheticReport({ pieces: { 3: HOSTILE, 7: "a&b" } });
  const report = { ...base, model: { ...base.model, name: `<b>"m"</b>` } };
  const html = renderInspectHtml(report);
  assert.equal(count(html, /<script>/g), 1, "only the page's own script");
  assert.ok(!html.includes('alert("x'), "the hostile piece is escaped");
  assert.ok(html.includes("&#60;script&#62;alert(&#34;x&#38;&#39;y&#34;)&#60;/script&#62;"));
  assert.ok(html.includes("a&#38;b"));
  assert.ok(!html.includes("<b>"), "the model name is escaped");
  assert.doesNotMatch(html, /https?:\/\//);
  assert.doesNotMatch(html, /<(link|img|iframe)\b|@import|url\(/);
});

Deno.test("renderInspectHtml() says there is no threshold for a policy that does not merge", () => {
  const report = syntheticReport({ policy: "streaming", nLayer: 2 });
  const html = renderInspectHtml(report);
  assert.match(html, /No threshold: this policy does not merge evicted tokens/);
  assert.doesNotMatch(html, /<polyline /);
  assert.equal(count(html, /<rect /g), 2);
});

const browser = findBrowser();
if (browser === null && BROWSER_REQUIRED) {
  throw new Error("render_html_test: D2O_REQUIRE_BROWSER=1 but no chromium on PATH");
}
if (browser === null) {
  console.log(
    "render_html_test: no chromium, chromium-browser or google-chrome on PATH; " +
      "the real-browser render test is skipped (structure checked only)",
  );
}

Deno.test({
  name: "renderInspectHtml() renders in a real headless browser, whose script shows one head",
  ignore: browser === null,
  async fn() {
    const report = syntheticReport({ nLayer: 3, nHeadKv: 2, pieces: { 4: HOSTILE } });
    const dir = await Deno.makeTempDir({ prefix: "d2o_inspect_html_" });
    try {
      const file = `${dir}/inspect.html`;
      await Deno.writeTextFile(file, renderInspectHtml(report));
      const { code, stdout, stderr } = await new Deno.Command(browser!, {
        args: [
          ...headlessArgs(`${dir}/profile`),
          "--dump-dom",
          `file://${file}`,
        ],
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(90_000),
      }).output();
      const dom = new TextDecoder().decode(stdout);
      assert.equal(code, 0, new TextDecoder().decode(stderr));
      assertPageStructure(dom, report);
      assert.match(dom, /<html lang="en" class="js">/, "the script ran");
      assert.match(dom, /<p id="head-picker">/, "the head selector is shown");
      assert.match(dom, /<section class="heatmap-head" data-head="0">/, "head 0 visible");
      assert.match(dom, /<section class="heatmap-head" data-head="1" hidden="">/, "head 1 hidden");
      assert.equal(count(dom, /<script>/g), 1, "the hostile piece stayed text");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
