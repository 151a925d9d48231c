/**
 * A headless Chromium for the HTML page tests: finding it, and taking a
 * screenshot of a page. CI (`.ci/run`) installs Debian's `chromium` and sets
 * `D2O_REQUIRE_BROWSER=1`, so the browser tests run there instead of skipping.
 *
 * @module
 */

import { decodePng, type Rgba } from "./_png.ts";

/** The first of chromium, chromium-browser or google-chrome on PATH, or null. */
export function findBrowser(): string | null {
  const dirs = (Deno.env.get("PATH") ?? "").split(":").filter((d) => d !== "");
  for (const name of ["chromium", "chromium-browser", "google-chrome"]) {
    for (const dir of dirs) {
      try {
        if (Deno.statSync(`${dir}/${name}`).isFile) return `${dir}/${name}`;
      } catch {
        // not in this directory
      }
    }
  }
  return null;
}

/** Whether a missing browser is a failure (CI) rather than a skip. */
export const BROWSER_REQUIRED = Deno.env.get("D2O_REQUIRE_BROWSER") === "1";

/** The arguments every headless run takes. */
export function headlessArgs(profileDir: string): string[] {
  return [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    `--user-data-dir=${profileDir}`,
  ];
}

/**
 * Screenshots `html` in a `width` × `height` window.
 *
 * @param browser the browser executable
 * @param html the page
 * @param size the window
 * @param dir a scratch directory (the page, the profile and the PNG go there)
 * @param name file name stem of the page and the PNG
 * @returns the decoded screenshot and the PNG's path
 */
export async function screenshot(
  browser: string,
  html: string,
  size: { width: number; height: number },
  dir: string,
  name: string,
): Promise<{ image: Rgba; png: string }> {
  const page = `${dir}/${name}.html`;
  const png = `${dir}/${name}.png`;
  await Deno.writeTextFile(page, html);
  const { code, stderr } = await new Deno.Command(browser, {
    args: [
      ...headlessArgs(`${dir}/profile`),
      `--window-size=${size.width},${size.height}`,
      `--screenshot=${png}`,
      `file://${page}`,
    ],
    stdout: "null",
    stderr: "piped",
    signal: AbortSignal.timeout(90_000),
  }).output();
  if (code !== 0) throw new Error(`${browser} failed: ${new TextDecoder().decode(stderr)}`);
  return { image: await decodePng(await Deno.readFile(png)), png };
}

/**
 * The page with only `selector` shown, at the top left (body margin 0): the
 * page's own markup and CSS, so a screenshot of one chart can be measured.
 */
export function isolate(html: string, selector: string): string {
  const css = `<style>html,body{margin:0;padding:0}body>*{display:none!important}` +
    `body>${selector}{display:block!important;margin:0}</style>`;
  return html.replace("</head>", `${css}</head>`);
}
