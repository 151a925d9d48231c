/**
 * `deno task compile`: one self-contained binary, `dist/d2o` (or `--output
 * PATH`). A failed compile leaves nothing behind — no half-written binary, no
 * folder it made for the output — and says why in one line: `deno compile`
 * downloads Deno's runtime (denort) once, and offline it blames a temporary
 * file, so this names the download and how to get past it.
 *
 * @module
 */

const at = Deno.args.indexOf("--output");
const output = at >= 0 ? Deno.args[at + 1] ?? "" : "dist/d2o";
if (output === "" || Deno.args.length !== (at >= 0 ? 2 : 0)) {
  console.error("compile: usage: deno task compile [--output PATH] (default dist/d2o)");
  Deno.exit(2);
}
const main = new URL("../main.ts", import.meta.url).pathname;
const config = new URL("../deno.json", import.meta.url).pathname;
const made = await missingFolders(output);

const { code, stderr } = await new Deno.Command(Deno.execPath(), {
  args: [
    "compile",
    "--config",
    config,
    "--allow-read",
    "--allow-write",
    "--allow-env",
    "--output",
    output,
    main,
  ],
  env: { NO_COLOR: "1" },
  stdout: "inherit",
  stderr: "piped",
}).output();
if (code === 0) {
  await Deno.stderr.write(stderr);
  Deno.exit(0);
}
await removeLeftovers(output, made);
console.error(`compile: ${whyItFailed(new TextDecoder().decode(stderr))}`);
Deno.exit(1);

/** One sentence from deno compile's error output. */
function whyItFailed(text: string): string {
  const plain = (line: string) => line.replace(/ \(os error \d+\)$/, "").replace(/\.$/, "");
  const lines = text.split("\n").map((l) => l.trim());
  const error = plain(lines.find((l) => l.startsWith("error:"))?.slice(6).trim() ?? "");
  // The innermost cause: the last numbered line under "Caused by:" (before any stack backtrace).
  const causes = lines.slice(lines.indexOf("Caused by:") + 1);
  const end = causes.indexOf("Stack backtrace:");
  const cause = lines.includes("Caused by:")
    ? causes.slice(0, end < 0 ? undefined : end).filter((l) => /^\d+: /.test(l)).at(-1)
    : undefined;
  const innermost = cause === undefined ? undefined : plain(cause.replace(/^\d+: /, ""));
  const { deno } = Deno.version;
  if (/denort|dl\.deno\.land|Setting up base binary/.test(text)) {
    return `Deno's runtime could not be downloaded (deno compile fetches denort ${deno} from ` +
      `dl.deno.land once, then caches it)${innermost ? `: ${innermost.toLowerCase()}` : ""}; ` +
      `connect to the network and run again, or set DENORT_BIN to a denort binary of Deno ${deno}`;
  }
  if (/Type checking failed/i.test(error)) {
    return "deno compile failed: the code does not type-check; deno task check lists the errors";
  }
  const why = [error, innermost].filter((s) => s).join(": ").toLowerCase() || "see deno compile";
  return `deno compile failed to make "${output}": ${why}`;
}

/** The folders on the way to `path` that do not exist yet, the deepest first. */
async function missingFolders(path: string): Promise<string[]> {
  const folders: string[] = [];
  for (let dir = parent(path); dir !== undefined; dir = parent(dir)) {
    try {
      await Deno.stat(dir);
      break;
    } catch {
      folders.push(dir);
    }
  }
  return folders;
}

function parent(path: string): string | undefined {
  const slash = path.replace(/\/+$/, "").lastIndexOf("/");
  return slash <= 0 ? undefined : path.slice(0, slash);
}

/** Removes the `<output>.tmp-*` file deno compile may leave and the folders it made, if empty. */
async function removeLeftovers(path: string, made: readonly string[]): Promise<void> {
  const dir = parent(path) ?? ".";
  const base = path.slice(path.lastIndexOf("/") + 1);
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.name.startsWith(`${base}.tmp-`)) await Deno.remove(`${dir}/${entry.name}`);
    }
  } catch {
    // The folder does not exist: nothing was left in it.
  }
  for (const folder of made) await Deno.remove(folder).catch(() => {}); // only if empty
}
