import assert from "node:assert/strict";
import { tokenFates, visiblePiece } from "../../src/inspect/token_fates.ts";
import type { InspectReport } from "../../src/inspect/types.ts";
import { syntheticReport } from "./_synthetic_report.ts";

Deno.test("tokenFates() gives every token its fate with the merge or eviction behind it", () => {
  const report = syntheticReport({ nLayer: 2, nHeadKv: 2, promptLength: 16, generated: 3 });
  const head = report.layers[1]!.heads[1]!;
  const cells = tokenFates(report, 1, 1);
  assert.equal(cells.length, 19);
  assert.deepEqual(cells.map((c) => c.pos), [...Array(19).keys()]);
  assert.deepEqual(cells.filter((c) => c.fate === "kept").map((c) => c.pos), head.kept);
  assert.deepEqual(cells.filter((c) => c.fate === "merged").map((c) => c.merge), head.merged);
  assert.deepEqual(cells.filter((c) => c.fate === "evicted").map((c) => c.eviction), head.evicted);
  assert.deepEqual(cells.filter((c) => c.fate === "unseen").map((c) => c.pos), [18]);
  assert.deepEqual(cells.filter((c) => c.generated).map((c) => c.pos), [16, 17, 18]);
  assert.equal(cells[5]!.piece, report.tokens.pieces[5]);
});

Deno.test("tokenFates() rejects an unknown layer or head, a position outside the sequence, and a position with two fates", () => {
  const report = syntheticReport({ nLayer: 1, nHeadKv: 1, promptLength: 12, generated: 0 });
  assert.throws(() => tokenFates(report, 1, 0), {
    message: "Cannot show layer 1: the report has 1 layers",
  });
  assert.throws(() => tokenFates(report, 0, 1), {
    message: "Cannot show KV head 1 of layer 0: the layer has 1 heads",
  });
  const head = report.layers[0]!.heads[0]!;
  const withHead = (h: typeof head): InspectReport => ({
    ...report,
    layers: [{ ...report.layers[0]!, heads: [h] }],
  });
  assert.throws(() => tokenFates(withHead({ ...head, kept: [...head.kept, 12] }), 0, 0), {
    name: "RangeError",
    message: "Cannot show layer 0 head 0: kept position 12 is outside the 12 tokens",
  });
  const dup = head.evicted[0]!.pos;
  assert.throws(() => tokenFates(withHead({ ...head, kept: [...head.kept, dup] }), 0, 0), {
    name: "RangeError",
    message: `Cannot show layer 0 head 0: position ${dup} is both kept and evicted`,
  });
});

Deno.test("visiblePiece() escapes control characters and leaves other text alone", () => {
  assert.equal(visiblePiece("a\tb\r\n"), "a\\tb\\r\\n");
  assert.equal(visiblePiece("\x1b[0m\x00\x7f\x9b"), "\\x1b[0m\\x00\\x7f\\x9b");
  assert.equal(visiblePiece(" né <€> ▁"), " né <€> ▁");
});
