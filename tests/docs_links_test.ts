/**
 * Citations resolve in a clone: every page a code comment names (`docs/method.md`)
 * exists in the repository, every `§` section it cites is a heading of that page,
 * and every relative link of the README and of `docs/` points at a file (and a
 * heading) that exists.
 */
import assert from "node:assert/strict";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const CODE_DIRS = ["src", "kernels", "scripts", "fixtures", "tests"];
const CODE_EXT = /\.(ts|js|wgsl|sh)$/;
const SKIP_DIRS = new Set(["node_modules", "generated", "dist", ".tools"]);

/** A page named in a comment, such as `docs/method.md`. */
const PAGE = /(?<![\w./-])((?:[\w.-]+\/)*[\w-]+\.md)\b/g;
/**
 * A section reference such as `§3.1`, `§9 Q7`, or a range (`§3.1–§3.4`,
 * `§9 Q4–Q5`, or `1.4–1.5` after a `§`). Groups: number, question, range end.
 */
const SECTION = /§\s?(\d+(?:\.\d+)*)(?:\s+(Q\d+))?(?:\s*[–-]\s*§?\s?(\d+(?:\.\d+)*|Q\d+))?/g;

/** One citation that does not resolve. */
interface Problem {
  readonly where: string;
  readonly what: string;
}

/** Files under `dir` (relative to the root) whose names match `ext`, skipping build outputs. */
function filesUnder(dir: string, ext: RegExp): string[] {
  const out: string[] = [];
  for (const entry of Deno.readDirSync(join(ROOT, dir))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory && !SKIP_DIRS.has(entry.name)) out.push(...filesUnder(path, ext));
    else if (entry.isFile && ext.test(entry.name)) out.push(path);
  }
  return out.sort();
}

/** The comment text of one source line ("" when it has none). */
function commentOf(line: string, path: string): string {
  if (path.endsWith(".sh")) {
    const at = line.indexOf("#");
    return at < 0 ? "" : line.slice(at);
  }
  const trimmed = line.trimStart();
  if (trimmed.startsWith("*") || trimmed.startsWith("/*") || trimmed.startsWith("//")) {
    return trimmed;
  }
  const at = line.indexOf("// ");
  return at < 0 ? "" : line.slice(at);
}

/** Section ids of a markdown page: `3`, `3.1`, and `9 Q1` for a `Q1` heading inside §9. */
function sectionIds(markdown: string): Set<string> {
  const ids = new Set<string>();
  let top = "";
  for (const line of markdown.split("\n")) {
    const heading = /^#{2,6}\s+(?:(\d+(?:\.\d+)*)\.?|(Q\d+)\.?)\s/.exec(line);
    if (!heading) continue;
    if (heading[1]) {
      ids.add(heading[1]);
      top = heading[1].split(".")[0]!;
    } else if (top) ids.add(`${top} ${heading[2]}`);
  }
  return ids;
}

/** The section ids one `§` match names: its start and, for a range, its end. */
function citedIds(match: RegExpExecArray): string[] {
  const [, number, question, end] = match;
  const ids = [question ? `${number} ${question}` : number!];
  if (end) ids.push(end.startsWith("Q") ? `${number} ${end}` : end);
  return ids;
}

/** Resolves a path against the citing file's folder, then the repository root. */
function resolvePage(page: string, from: string): string | undefined {
  for (const candidate of [join(dirname(from), page), page]) {
    try {
      Deno.statSync(join(ROOT, candidate));
      return relative(ROOT, join(ROOT, candidate));
    } catch {
      // not there; try the next
    }
  }
  return undefined;
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
}

/** The heading anchors of a markdown page (none for other files). */
function anchorsOf(page: string): Set<string> {
  const anchors = new Set<string>();
  if (!page.endsWith(".md")) return anchors;
  let fenced = false;
  for (const line of Deno.readTextFileSync(join(ROOT, page)).split("\n")) {
    if (line.startsWith("```")) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6}\s+(.*)$/.exec(line);
    if (heading) anchors.add(slug(heading[1]!));
  }
  return anchors;
}

/** Section ids per page, read once. */
const sectionCache = new Map<string, Set<string>>();
function sectionsOf(page: string): Set<string> {
  let ids = sectionCache.get(page);
  if (!ids) {
    ids = sectionIds(Deno.readTextFileSync(join(ROOT, page)));
    sectionCache.set(page, ids);
  }
  return ids;
}

/** What a scan has seen so far in one file. */
interface ScanState {
  /** The page a bare `§` refers to; null after a page that is not in the repository. */
  page: string | null | undefined;
  /** Whether a named page that is not in the repository is a problem (code comments). */
  readonly strict: boolean;
}

/** Checks the pages and `§` references of one line of text, in order. */
function checkLine(
  text: string,
  where: string,
  from: string,
  state: ScanState,
  count: { pages: number; sections: number },
): Problem[] {
  const problems: Problem[] = [];
  const events: { at: number; page?: string; section?: RegExpExecArray }[] = [];
  for (const m of text.matchAll(PAGE)) events.push({ at: m.index, page: m[1]! });
  for (const m of text.matchAll(SECTION)) events.push({ at: m.index, section: m });
  for (const event of events.sort((a, b) => a.at - b.at)) {
    if (event.page) {
      const page = resolvePage(event.page, from);
      if (page) state.page = page;
      else if (state.strict) {
        state.page = null;
        problems.push({ where, what: `cites ${event.page}, which is not in the repository` });
      }
      if (page || state.strict) count.pages++;
      continue;
    }
    count.sections++;
    if (state.page === null) continue; // its page is missing, and said so
    if (state.page === undefined) {
      problems.push({ where, what: `cites ${event.section![0]} without a page before it` });
      continue;
    }
    const have = sectionsOf(state.page);
    for (const id of citedIds(event.section!).filter((id) => !have.has(id))) {
      problems.push({ where, what: `cites ${state.page} §${id}, which has no such section` });
    }
  }
  return problems;
}

/**
 * Checks the citations in the comments of one source file. A `§` refers to
 * the page cited last before it in the same file.
 */
function checkComments(
  path: string,
  lines: readonly string[],
  count: { pages: number; sections: number },
): Problem[] {
  const state: ScanState = { page: undefined, strict: true };
  return lines.flatMap((line, i) => {
    const comment = commentOf(line, path);
    return comment ? checkLine(comment, `${path}:${i + 1}`, path, state, count) : [];
  });
}

/**
 * Checks one markdown page outside code blocks: relative links point at files
 * that exist, and a `§` refers to a section of the page named before it on
 * the same line, or else of this page.
 */
function checkMarkdown(path: string, count: { pages: number; sections: number }): Problem[] {
  const problems: Problem[] = [];
  let fenced = false;
  Deno.readTextFileSync(join(ROOT, path)).split("\n").forEach((line, i) => {
    if (line.startsWith("```")) fenced = !fenced;
    if (fenced) return;
    const where = `${path}:${i + 1}`;
    for (const [, target] of line.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue;
      count.pages++;
      const [file, anchor] = target!.split("#");
      const page = file ? resolvePage(file, path) : path;
      if (!page) problems.push({ where, what: `links ${target}, which is not in the repository` });
      else if (anchor !== undefined && !anchorsOf(page).has(anchor)) {
        problems.push({ where, what: `links ${target}, but ${page} has no heading #${anchor}` });
      }
    }
    const state: ScanState = { page: path, strict: false };
    problems.push(...checkLine(line, where, path, state, count));
  });
  return problems;
}

Deno.test("checkComments() finds a missing page, a missing section and a § without a page", () => {
  const count = { pages: 0, sections: 0 };
  const problems = checkComments("src/x.ts", [
    " * §3.1 before any page",
    " * (docs/method.md §3.1–§3.4, §9 Q4–Q5) is fine",
    " * docs/method.md §99 and §9 Q99 are not",
    " * shared/docs/style.md §1 is outside the repository",
  ], count);
  assert.deepEqual(problems.map((p) => p.what), [
    "cites §3.1 without a page before it",
    "cites docs/method.md §99, which has no such section",
    "cites docs/method.md §9 Q99, which has no such section",
    "cites shared/docs/style.md, which is not in the repository",
  ]);
  assert.deepEqual(count, { pages: 3, sections: 6 });
});

Deno.test("slug() gives GitHub's heading anchors", () => {
  assert.equal(slug("Quality: `profile --text`"), "quality-profile---text");
  assert.equal(slug("d2o against llama.cpp (`bench --peer`)"), "d2o-against-llamacpp-bench---peer");
  assert.equal(slug("Parity with the D2O authors' code"), "parity-with-the-d2o-authors-code");
});

Deno.test("every page and § section cited in a code comment exists in the repository", () => {
  const count = { pages: 0, sections: 0 };
  const problems: Problem[] = [];
  for (const dir of CODE_DIRS) {
    for (const path of filesUnder(dir, CODE_EXT)) {
      problems.push(
        ...checkComments(path, Deno.readTextFileSync(join(ROOT, path)).split("\n"), count),
      );
    }
  }
  assert.deepEqual(problems.map((p) => `${p.where}: ${p.what}`), []);
  assert.ok(count.pages >= 30 && count.sections >= 40, `found only ${JSON.stringify(count)}`);
});

Deno.test("every relative link and § reference of README.md and docs/ resolves", () => {
  const count = { pages: 0, sections: 0 };
  const pages = ["README.md", ...filesUnder("docs", /\.md$/)];
  const problems = pages.flatMap((path) => checkMarkdown(path, count));
  assert.deepEqual(problems.map((p) => `${p.where}: ${p.what}`), []);
  assert.ok(count.pages >= 10 && count.sections >= 10, `found only ${JSON.stringify(count)}`);
});
