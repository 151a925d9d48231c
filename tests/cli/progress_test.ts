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

Deno.test("on a terminal, a counted task shows done of total, its unit and its rate; done() clears it", () => {
  let t = 0;
  const writes: string[] = [];
  const terminal = {
    isTerminal: () => true,
    writeSync(p: Uint8Array) {
      writes.push(new TextDecoder().decode(p));
      return p.length;
    },
  };
  const bar = createProgress("prompt", terminal, { unit: "tokens", now: () => t });
  t = 2000;
  bar.update(128, 1142);
  t = 2010; // within 50 ms of the last draw: not drawn again
  bar.update(256, 1142);
  t = 4000;
  bar.update(512, 1142);
  bar.done();
  assert.equal(writes.length, 3);
  // deno-lint-ignore no-control-regex
  const plain = (s: string) => s.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "");
  assert.match(plain(writes[0]!), /^\rprompt [█░]{30} 128\/1142 tokens, 64\.0 tokens\/s$/);
  assert.match(plain(writes[1]!), /^\rprompt [█░]{30} 512\/1142 tokens, 128\.0 tokens\/s$/);
  assert.equal(writes[2], "\r\x1b[2K");
});

Deno.test("off a terminal, a counted task's lines name the unit", () => {
  let t = 0;
  const stream = pipe();
  const progress = createProgress("prompt", stream, { lines: true, unit: "tokens", now: () => t });
  t = 2500;
  progress.update(400, 1902);
  assert.deepEqual(stream.lines, ["d2o: prompt 400/1902 tokens (160.0 tokens per second)\n"]);
});
