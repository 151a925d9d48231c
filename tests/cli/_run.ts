/**
 * Runs the real `d2o` entry point in a subprocess, as a user would.
 *
 * @module
 */

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;

/** What one run of `d2o` produced. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `d2o ARGS` with `stdin` piped in (or closed) and collects its output.
 *
 * @param args arguments after `d2o`
 * @param stdin text (or bytes) to pipe to stdin; omit for a closed (null) stdin
 * @param options `timeoutMs`: kill the run after this long (it then fails the caller's checks)
 */
export async function runD2o(
  args: string[],
  stdin?: string | Uint8Array,
  options: { timeoutMs?: number } = {},
): Promise<RunResult> {
  const command = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--config",
      CONFIG,
      "--allow-read",
      "--allow-write",
      "--allow-env",
      MAIN,
      ...args,
    ],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
    ...(options.timeoutMs ? { signal: AbortSignal.timeout(options.timeoutMs) } : {}),
  });
  const child = command.spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(typeof stdin === "string" ? new TextEncoder().encode(stdin) : stdin);
    await writer.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Path of a shared test model (tests may read ../shared; the product never does). */
export function sharedModel(name: string): string {
  return new URL(`../../../shared/models/${name}`, import.meta.url).pathname;
}
