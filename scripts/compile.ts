/**
 * `deno task compile`: one self-contained binary, `dist/d2o` (or `--output
 * PATH`). `deno compile` downloads Deno's runtime (denort) once; when that
 * fails — no network — it blames a temporary file, so this says what happened
 * and how to get past it, and leaves no half-written binary behind.
 *
 * @module
 */

const args = Deno.args.length > 0 ? Deno.args : ["--output", "dist/d2o"];
const output = args[args.indexOf("--output") + 1] ?? "dist/d2o";
const main = new URL("../main.ts", import.meta.url).pathname;
const config = new URL("../deno.json", import.meta.url).pathname;

const child = new Deno.Command(Deno.execPath(), {
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
  stdout: "inherit",
  stderr: "piped",
}).spawn();
const { code, stderr } = await child.output();
const text = new TextDecoder().decode(stderr);
if (code === 0) {
  await Deno.stderr.write(stderr);
  Deno.exit(0);
}
if (/denort|dl\.deno\.land|Setting up base binary/.test(text)) {
  await removeLeftovers(output);
  console.error(
    `compile: Deno's runtime could not be downloaded (deno compile fetches denort ` +
      `${Deno.version.deno} from dl.deno.land once, then caches it). Connect to the network and ` +
      `run again, or set DENORT_BIN to a denort binary of Deno ${Deno.version.deno}.`,
  );
  const cause = text.split("\n").find((l) => /error sending request|dns error|Connect/.test(l));
  if (cause) console.error(`compile: the download failed with: ${cause.trim()}`);
  Deno.exit(1);
}
await Deno.stderr.write(stderr);
Deno.exit(code);

/** Removes the temporary `<output>.tmp-*` file deno compile may leave. */
async function removeLeftovers(path: string): Promise<void> {
  const slash = path.lastIndexOf("/");
  const dir = slash < 0 ? "." : path.slice(0, slash) || "/";
  const base = path.slice(slash + 1);
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.name.startsWith(`${base}.tmp-`)) await Deno.remove(`${dir}/${entry.name}`);
    }
  } catch {
    // The directory does not exist: nothing was left.
  }
}
