import assert from "node:assert/strict";
import { createProgress } from "../../src/cli/progress.ts";

/** A stderr that is not a terminal and keeps what is written. */
function pipe() {
  const lines: string[] = [];
  return {
    lines,
    isTerminal: () => false,
    writeSync(p: Uint8Array) {
      lines.push(new TextDecoder().decode(p));
      return p.length;
    },
  };
}

Deno.test("off a terminal, a long task prints a progress line every 2 s; a short one none", () => {
  let t = 0;
  const stream = pipe();
  const progress = createProgress("generating", stream, { lines: true, now: () => t });
  for (
    const [at, done] of [[500, 10], [1900, 40], [2100, 45], [3000, 60], [4200, 90], [4300, 95]]
  ) {
    t = at!;
    progress.update(done!, 100);
  }
  progress.done();
  assert.deepEqual(stream.lines, [
    "d2o: generating 45/100 (21.4 per second)\n",
    "d2o: generating 90/100 (21.4 per second)\n",
  ]);
  const quiet = pipe();
  const bar = createProgress("loading weights", quiet);
  t = 10_000;
  bar.update(5, 10);
  assert.deepEqual(quiet.lines, [], "without lines, nothing off a terminal");
});
