/**
 * The `compress-inspect --html` page of a real run (stories260K, d2o) in
 * headless Chromium: screenshots of the heatmap, the budget chart and the τ
 * curves, each measured against the report the page was drawn from — every
 * heatmap cell's colour is its token's fate, every bar ends where its budget
 * says, every τ curve ends at its last value in its layer's colour.
 * `D2O_SCREENSHOT_DIR=dir` keeps the screenshots for a person to look at.
 */
import assert from "node:assert/strict";
import type { InspectReport } from "../../src/inspect/types.ts";
import { tokenFates } from "../../src/inspect/token_fates.ts";
import { runD2o, sharedModel } from "../cli/_run.ts";
import { gpuTestOptions } from "../_gpu.ts";
import { BROWSER_REQUIRED, findBrowser, isolate, screenshot } from "./_browser.ts";
import { colorDistance, hexColor, hslColor, pixel, type Rgba } from "./_png.ts";

const browser = findBrowser();
if (browser === null && BROWSER_REQUIRED) {
  throw new Error("browser_screenshot_test: D2O_REQUIRE_BROWSER=1 but no chromium on PATH");
}

const STORIES = sharedModel("stories260K.gguf");
const PROMPT = "Once upon a time, there was a little girl named Lily. She loved to play outside " +
  "in the park with her dog Max. One day, Lily and Max found a big red ball under a tree.";
const FATE_COLORS = {
  kept: hexColor("#2f9e44"),
  merged: hexColor("#f2b705"),
  evicted: hexColor("#c92a2a"),
  unseen: hexColor("#dee2e6"),
} as const;
const BAR = hexColor("#1c7ed6");

/** The bounding box of the pixels within `tolerance` of any of `colors`. */
function box(img: Rgba, colors: readonly (readonly number[])[], tolerance = 2) {
  let [x0, y0, x1, y1] = [Infinity, Infinity, -1, -1];
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      const p = pixel(img, x, y);
      if (colors.some((c) => colorDistance(p, c) <= tolerance)) {
        [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
      }
    }
  }
  return { x0, y0, x1, y1 };
}

/**
 * Reads the heatmap back: along the middle of each layer's row, the runs of a
 * fate's colour between the white cell borders are the cells, left to right.
 */
function checkHeatmap(img: Rgba, report: InspectReport): number {
  const fates = Object.entries(FATE_COLORS) as [keyof typeof FATE_COLORS, number[]][];
  const { x0, y0, x1, y1 } = box(img, fates.map(([, c]) => c));
  const rows = report.layers.length;
  const h = (y1 - y0 + 1) / rows;
  assert.ok(h >= 12 && h <= 20, `row height ${h} px`);
  let checked = 0;
  for (let l = 0; l < rows; l++) {
    const y = y0 + (l + 0.5) * h;
    const seen: string[] = [];
    let previous: string | null = null;
    for (let x = x0; x <= x1; x++) {
      const p = pixel(img, x, y);
      const fate = fates.find(([, c]) => colorDistance(p, c) <= 2)?.[0] ?? null;
      if (fate !== null && fate !== previous) seen.push(fate);
      previous = fate;
    }
    const expected = tokenFates(report, l, 0).map((c) => c.fate);
    assert.deepEqual(seen, expected, `layer ${l}: the cells read back from the screenshot`);
    checked += seen.length;
  }
  return checked;
}

function checkBudgets(img: Rgba, report: InspectReport): void {
  // budgetChart's geometry: bars from x = 60, 420 px for the largest, rows of 20 px from y = 5.
  const largest = Math.max(...report.plan.map((p) => p.slots));
  report.plan.forEach((p, i) => {
    const y = 5 + i * 20 + 10;
    const end = 60 + 420 * p.slots / largest;
    assert.ok(colorDistance(pixel(img, 62, y), BAR) <= 2, `L${i} bar starts at 60`);
    assert.ok(colorDistance(pixel(img, end - 2, y), BAR) <= 2, `L${i} bar reaches ${end}`);
    assert.ok(colorDistance(pixel(img, end + 2, y), BAR) > 40, `L${i} bar ends at ${end}`);
  });
}

function checkTau(img: Rgba, report: InspectReport): number {
  // tauChart's geometry: plot at (60, 10), 520 × 200; colours hsl(360·ℓ/L 70% 42%).
  const series = report.layers.filter((l) => l.tau.length > 0);
  const all = series.flatMap((l) => l.tau);
  let [lo, hi] = [Math.min(...all), Math.max(...all)];
  if (hi === lo) [lo, hi] = [lo - 0.5, hi + 0.5];
  const steps = Math.max(...series.map((l) => l.tau.length));
  const x = (i: number) => 60 + (steps === 1 ? 0 : 520 * i / (steps - 1));
  const y = (v: number) => 10 + 200 * (hi - v) / (hi - lo);
  const ends = series.map((l) => ({ layer: l.layer, x: x(l.tau.length - 1), y: y(l.tau.at(-1)!) }));
  let checked = 0;
  ends.forEach((e, i) => {
    // A later curve's end drawn over this one hides it: check only the ends left visible.
    if (ends.slice(i + 1).some((o) => Math.hypot(o.x - e.x, o.y - e.y) < 6)) return;
    const color = hslColor(360 * e.layer / report.layers.length, 0.7, 0.42);
    const got = pixel(img, e.x, e.y);
    assert.ok(
      colorDistance(got, color) <= 12,
      `layer ${e.layer} τ ends at (${e.x}, ${e.y}): ${got}`,
    );
    checked++;
  });
  // Every vertex of every curve, unless another curve passes within 5 px at that step.
  for (const l of series) {
    const color = hslColor(360 * l.layer / report.layers.length, 0.7, 0.42);
    l.tau.forEach((v, i) => {
      const crowded = series.some((o) =>
        o !== l && o.tau[i] !== undefined && Math.abs(y(o.tau[i]!) - y(v)) < 5
      );
      if (crowded) return;
      const near = [-1, 0, 1].flatMap((dx) => [-1, 0, 1].map((dy) => [dx, dy] as const))
        .some(([dx, dy]) => colorDistance(pixel(img, x(i) + dx, y(v) + dy), color) <= 60);
      assert.ok(near, `layer ${l.layer} τ[${i}] = ${v} drawn at (${x(i)}, ${y(v)})`);
      checked++;
    });
  }
  return checked;
}

Deno.test({
  name:
    "compress-inspect --html in headless Chromium: heatmap, budget chart and τ curves match the report",
  ...gpuTestOptions,
  ignore: browser === null || gpuTestOptions.ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "d2o_screens_" });
    try {
      const page = `${dir}/inspect.html`;
      const run = await runD2o([
        "compress-inspect",
        "-m",
        STORIES,
        PROMPT,
        "--kv-budget",
        "0.3",
        "--kv-min",
        "4",
        "--generate",
        "16",
        "--json",
        "--html",
        page,
      ]);
      assert.equal(run.code, 0, run.stderr);
      const report: InspectReport = JSON.parse(run.stdout);
      const html = await Deno.readTextFile(page);
      const size = { width: 1400, height: 600 };
      const shots = {
        heatmap: await screenshot(
          browser!,
          isolate(html, 'section.heatmap-head[data-head="0"]'),
          size,
          dir,
          "heatmap",
        ),
        budgets: await screenshot(browser!, isolate(html, "svg.budgets"), size, dir, "budgets"),
        tau: await screenshot(browser!, isolate(html, "svg.tau"), size, dir, "tau"),
      };
      const keep = Deno.env.get("D2O_SCREENSHOT_DIR");
      if (keep) {
        for (const [name, s] of Object.entries(shots)) {
          await Deno.copyFile(s.png, `${keep}/${name}.png`);
        }
      }
      const cells = checkHeatmap(shots.heatmap.image, report);
      assert.equal(cells, report.layers.length * report.tokens.ids.length);
      checkBudgets(shots.budgets.image, report);
      assert.ok(new Set(report.plan.map((p) => p.slots)).size > 1, "the budgets differ by layer");
      assert.ok(checkTau(shots.tau.image, report) >= 20, "τ points checked");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
