import assert from "node:assert/strict";
import { D2oError, InterruptedError, SIGNAL_EXIT_CODE } from "../../src/errors.ts";
import { reportError } from "../../src/cli/report_error.ts";

const INTERRUPT = new URL("../../src/cli/interrupt.ts", import.meta.url).href;

/**
 * A process that watches, sends itself `first`, lets the watch see it, then
 * sends itself `second` while its JavaScript thread is idle or busy (as
 * during a long GPU submission on lavapipe); it prints what the watch saw,
 * then `survived` if it was still running 3 s later.
 */
const CHILD = `
import { watchInterrupt } from "${INTERRUPT}";
const [first, second, busy] = Deno.args;
const watch = watchInterrupt();
Deno.kill(Deno.pid, first);
await new Promise((r) => setTimeout(r, 300));
console.log(JSON.stringify({ interrupted: watch.interrupted, signal: watch.signal }));
if (second) {
  Deno.kill(Deno.pid, second);
  const t = performance.now();
  if (busy) while (performance.now() - t < 3000);
  else await new Promise((r) => setTimeout(r, 3000));
}
watch.dispose();
console.log("survived");
`;

async function child(...args: string[]) {
  const dir = await Deno.makeTempDir({ prefix: "d2o-watch-" });
  try {
    await Deno.writeTextFile(`${dir}/child.ts`, CHILD);
    const t0 = performance.now();
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-run", "--allow-read", `${dir}/child.ts`, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
    return { ...out, lines, ms: performance.now() - t0, err: new TextDecoder().decode(out.stderr) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  Deno.test(`watchInterrupt: ${signal} sets the flag and names itself; the run goes on`, async () => {
    const r = await child(signal);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(r.lines, [JSON.stringify({ interrupted: true, signal }), "survived"]);
  });
}

Deno.test("watchInterrupt: a second signal of the same kind ends the process at once, even with the JS thread busy", async () => {
  const r = await child("SIGINT", "SIGINT", "busy");
  assert.deepEqual(r.lines, [JSON.stringify({ interrupted: true, signal: "SIGINT" })]);
  assert.equal(r.signal, "SIGINT");
  assert.equal(r.code, 130);
  assert.ok(r.ms < 2500, `took ${r.ms} ms: it waited for the busy loop`);
});

Deno.test("watchInterrupt: a second signal of another kind exits at once with its own code", async () => {
  for (const [first, second] of [["SIGTERM", "SIGHUP"], ["SIGHUP", "SIGINT"]] as const) {
    const r = await child(first, second);
    assert.deepEqual(r.lines, [JSON.stringify({ interrupted: true, signal: first })]);
    assert.equal(r.code, SIGNAL_EXIT_CODE[second], r.err);
  }
});

Deno.test("InterruptedError carries its signal's exit code and is not a D2oError", () => {
  const codes = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
  for (const [signal, code] of Object.entries(codes) as [keyof typeof codes, number][]) {
    const error = new InterruptedError(`interrupted by ${signal} after 3 generated tokens`, {
      signal,
    });
    assert.equal(error.exitCode, code);
    assert.equal(error.signal, signal);
    // Code that turns user errors into rows (profile) or per-prompt errors must let it through.
    assert.ok(!(error instanceof D2oError));
    const log = console.error;
    const lines: string[] = [];
    console.error = (line: string) => lines.push(line);
    try {
      assert.equal(reportError(error, false), code);
    } finally {
      console.error = log;
    }
    assert.deepEqual(lines, [`d2o: interrupted by ${signal} after 3 generated tokens`]);
  }
  assert.equal(new InterruptedError("interrupted after 1 of 2 prompts").exitCode, 130);
});
