/**
 * Runs the real `d2o` entry point in a subprocess, as a user would.
 *
 * @module
 */

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;

/** The `deno run` arguments that start `d2o` as a user runs it. */
export const D2O_RUN = [
  "run",
  "--config",
  CONFIG,
  "--allow-read",
  "--allow-write",
  "--allow-env",
  MAIN,
];

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
    args: [...D2O_RUN, ...args],
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

/** A run of `d2o` that a test signals or stops reading: what it printed, and how it ended. */
export interface SignalledRun {
  code: number;
  out: string;
  err: string;
}

/**
 * Runs `command args` (by default `d2o args`), waits until
 * `ready(stdout, stderr)` (at most 60 s), sends `signals` back to back and
 * collects the rest. With `pause`, the child is stopped (SIGSTOP) while the
 * signals are sent and continued after, so they arrive together.
 *
 * @param args arguments after `d2o` (or after `command`)
 * @param ready when to send the signals
 * @param signals the signals, in order
 * @param options `command`: run this instead of `d2o`; `pause`: deliver the signals together
 */
export async function signalled(
  args: string[],
  ready: (out: string, err: string) => boolean,
  signals: Deno.Signal[],
  options: { command?: string; pause?: boolean } = {},
): Promise<SignalledRun> {
  const child = new Deno.Command(options.command ?? Deno.execPath(), {
    args: options.command ? args : [...D2O_RUN, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  let [out, err] = ["", ""];
  const pump = async (stream: ReadableStream<Uint8Array>, add: (s: string) => void) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) add(chunk);
  };
  const done = Promise.all([
    pump(child.stdout, (s) => out += s),
    pump(child.stderr, (s) => err += s),
  ]);
  const deadline = Date.now() + 60_000;
  while (!ready(out, err) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  if (options.pause) child.kill("SIGSTOP");
  for (const signal of signals) child.kill(signal);
  if (options.pause) child.kill("SIGCONT");
  const status = await child.status;
  await done;
  return { code: status.code, out, err };
}
