import assert from "node:assert/strict";
import { LimitError } from "../../../src/errors.ts";
import { resolveKvOptions } from "../../../src/kv/options.ts";
import type { LayerBudget } from "../../../src/kv/policy.ts";
import { createKvPolicy } from "../../../src/kv/registry.ts";
import { ReferenceKvLayer } from "../../../src/reference/kv/kv_layer.ts";

// Hand-checkable case: 2 KV heads, head_dim 2, a 6-token prompt compressed to
// C = 4 (1 sink, 1 more heavy hitter, window 2).
const BUDGET: LayerBudget = { slots: 4, heavy: 2, recent: 2, sinks: 1, compressed: true };
const SHAPE = { nHeadKv: 2, headDim: 2 };
// keys [head][position][dim]
const KEYS = new Float32Array([
  ...[1, 0, 0, 1, 1, 1, 1, 0, 0, 2, -1, 0], // head 0: p0..p5
  ...[0, 1, 1, 0, 0.8, 0.6, 0, -1, 1, 1, 0.6, 0.8], // head 1
]);
// values [head][position] = [position, 1 + head]
const VALUES = new Float32Array(
  [0, 1].flatMap((h) => [0, 1, 2, 3, 4, 5].flatMap((p) => [p, 1 + h])),
);
const SCORES = new Float32Array([
  ...[0.1, 3, 2, 1, 0.5, 0.2], // head 0: candidates p1 > p2 > p3
  ...[0, 2, 2, 1, 0, 0], // head 1: p1 and p2 tie, the older p1 is kept
]);

function layer(options: Parameters<typeof resolveKvOptions>[0]): ReferenceKvLayer {
  return new ReferenceKvLayer(createKvPolicy(resolveKvOptions(options)), BUDGET, SHAPE);
}

function row(layer: ReferenceKvLayer, head: number, slot: number, of: "keys" | "values"): number[] {
  const at = (head * layer.nSlots + slot) * layer.headDim;
  return [...layer[of].subarray(at, at + layer.headDim)];
}

function assertRow(got: number[], want: number[], what: string) {
  got.forEach((x, i) =>
    assert.ok(Math.abs(x - want[i]!) < 1e-6, `${what}[${i}]: ${x} vs ${want[i]}`)
  );
}

Deno.test("ReferenceKvLayer.prefill() keeps sinks, window and top scores and merges by the paper rule", () => {
  const l = layer({ kv: "d2o" });
  const d = l.prefill(KEYS, VALUES, SCORES, 6);
  assert.ok(d !== null);
  // Kept positions in ascending order in slots 0..3, slot 4 free.
  assert.deepEqual([...l.table.pos], [0, 1, 4, 5, -1, 0, 1, 4, 5, -1]);
  assert.deepEqual([...l.table.score], [
    ...[0.1, 3, 0.5, 0.2, 0].map(Math.fround),
    ...[0, 2, 0, 0, 0],
  ]);
  // Head 0: p2=[1,1] is equally close (1/√2) to p0, p1 and p4: the oldest, p0, wins.
  // p3=[1,0] matches p0 exactly. Head 1: p2=[.8,.6] is closest to p4=[1,1]
  // (1.4/√2); p3=[0,-1] has best similarity 0 (p1).
  const m = [Math.SQRT1_2, 1, 1.4 / Math.SQRT2, 0];
  const tau = (m[0]! + m[1]! + m[2]! + m[3]!) / 4;
  assert.ok(Math.abs(l.tau - tau) < 1e-6, `tau ${l.tau} vs ${tau}`);
  assert.deepEqual([...d.mergeTarget], [-1, -1, 0, 0, -1, -1, -1, -1, 4, -1, -1, -1]);
  // Head 0, p0 absorbs p2 and p3: weights e, exp(1/√2), e over D.
  const a2 = Math.exp(Math.SQRT1_2);
  const D0 = 2 * Math.E + a2;
  assertRow(row(l, 0, 0, "keys"), [(2 * Math.E + a2) / D0, a2 / D0], "head 0 merged key");
  assertRow(row(l, 0, 0, "values"), [(a2 * 2 + Math.E * 3) / D0, 1], "head 0 merged value");
  // Head 1, p4 absorbs p2.
  const b = Math.exp(1.4 / Math.SQRT2);
  const D1 = Math.E + b;
  assertRow(row(l, 1, 2, "keys"), [(Math.E + 0.8 * b) / D1, (Math.E + 0.6 * b) / D1], "head 1 key");
  assertRow(row(l, 1, 2, "values"), [(4 * Math.E + 2 * b) / D1, 2], "head 1 merged value");
  // Untouched rows keep their values.
  assertRow(row(l, 0, 1, "keys"), [0, 1], "head 0 p1");
  assertRow(row(l, 1, 3, "values"), [5, 2], "head 1 p5");
});

Deno.test("ReferenceKvLayer.step() evicts the lowest non-protected score and merges above the EMA threshold", () => {
  const l = layer({ kv: "d2o" });
  l.prefill(KEYS, VALUES, SCORES, 6);
  const tau0 = l.tau;
  const head1Key = row(l, 1, 2, "keys");
  // p6: recent window is now {p5, p6}; candidates p1 and p4. Head 0 gives p4
  // 0.1 more (0.6 < 3), head 1 nothing (p4 at 0 < p1 at 2): both evict p4 (slot 2).
  const attention = new Float32Array([0, 0, 0.1, 0, 0, 0, 0, 0, 0, 0]);
  const d = l.step(new Float32Array([1, 0.1, 0, 1]), new Float32Array([6, 1, 6, 2]), attention);
  assert.deepEqual([...d.evictSlot], [2, 2]);
  // Head 0: p4=[0,2] vs p0≈[1,.27], p1=[0,1], p5=[-1,0], p6=[1,.1]: p1, cos 1.
  // Head 1: merged p4 vs p0=[0,1], p1=[1,0], p5=[.6,.8], p6=[0,1]: p5.
  const [x, y] = head1Key as [number, number];
  const n = Math.hypot(x, y);
  const m1 = (0.6 * x + 0.8 * y) / n;
  assert.ok(Math.abs(d.similarity[0]! - 1) < 1e-6);
  assert.ok(Math.abs(d.similarity[1]! - m1) < 1e-6);
  const tau = 0.3 * tau0 + 0.7 * ((1 + m1) / 2);
  assert.ok(Math.abs(d.tau - tau) < 1e-6, `tau ${d.tau} vs ${tau}`);
  assert.ok(m1 >= tau);
  assert.deepEqual([...d.mergeTarget], [1, 3]);
  // Head 0: p1 absorbs p4 with similarity 1: weights e/(2e) each.
  assertRow(row(l, 0, 1, "keys"), [0, 1.5], "head 0 p1 key");
  assertRow(row(l, 0, 1, "values"), [2.5, 1], "head 0 p1 value");
  assert.deepEqual([...l.table.pos], [0, 1, -1, 5, 6, 0, 1, -1, 5, 6]);
  // The freed slot receives the next token in both heads.
  assert.deepEqual([...l.append(new Float32Array(4), new Float32Array(4))], [2, 2]);
});

Deno.test("ReferenceKvLayer in parity mode merges by the head mean and the code rule", () => {
  const l = layer({ kv: "d2o", parity: true });
  const d = l.prefill(KEYS, VALUES, SCORES, 6);
  assert.ok(d !== null);
  // Evicted, in position order: head 0 [p2 (1/√2), p3 (1)], head 1 [p2 (.99), p3 (0)].
  // 1st: mean (1/√2 + .99)/2 ≥ τ ≈ .674: both merge. 2nd: mean 0.5 < τ: neither
  // (head 0's p3 is dropped despite similarity 1).
  assert.deepEqual([...d.mergeTarget], [-1, -1, 0, -1, -1, -1, -1, -1, 4, -1, -1, -1]);
  // Code rule: k_c = (k_c + u·k_e) / 2.
  const u = Math.SQRT1_2;
  assertRow(row(l, 0, 0, "keys"), [(1 + u) / 2, u / 2], "head 0 key");
  const u1 = 1.4 / Math.SQRT2;
  assertRow(row(l, 1, 2, "keys"), [(1 + 0.8 * u1) / 2, (1 + 0.6 * u1) / 2], "head 1 key");
  assertRow(row(l, 1, 2, "values"), [(4 + 2 * u1) / 2, (2 + 2 * u1) / 2], "head 1 value");
});

Deno.test("ReferenceKvLayer with h2o drops evicted tokens and leaves tau unset", () => {
  const l = layer({ kv: "h2o" });
  const d = l.prefill(KEYS, VALUES, SCORES, 6);
  assert.ok(d !== null);
  assert.deepEqual([...d.mergeTarget], new Array(12).fill(-1));
  assert.ok(Number.isNaN(l.tau));
  assertRow(row(l, 0, 0, "keys"), [1, 0], "sink key");
});

Deno.test("ReferenceKvLayer with streaming evicts the oldest non-sink at every step", () => {
  const budget: LayerBudget = { slots: 3, heavy: 1, recent: 2, sinks: 1, compressed: true };
  const policy = createKvPolicy(resolveKvOptions({ kv: "streaming" }));
  const l = new ReferenceKvLayer(policy, budget, { nHeadKv: 1, headDim: 1 });
  const kept: number[][] = [];
  for (let t = 0; t < 6; t++) {
    // Scores favour old tokens: streaming must ignore them.
    l.step(new Float32Array([t]), new Float32Array([t]), new Float32Array([9, 8, 7, 6]));
    kept.push([...l.table.pos].filter((p) => p >= 0).sort((a, b) => a - b));
  }
  assert.deepEqual(kept, [[0], [0, 1], [0, 1, 2], [0, 2, 3], [0, 3, 4], [0, 4, 5]]);
});

Deno.test("ReferenceKvLayer.reset() unsets tau and empties the slots", () => {
  const l = layer({ kv: "d2o" });
  l.prefill(KEYS, VALUES, SCORES, 6);
  assert.ok(!Number.isNaN(l.tau));
  l.reset();
  assert.ok(Number.isNaN(l.tau));
  assert.equal(l.newestPos, -1);
  assert.deepEqual([...l.table.pos], new Array(10).fill(-1));
});

Deno.test("ReferenceKvLayer rejects a prompt longer than an uncompressed layer and a full append", () => {
  const policy = createKvPolicy(resolveKvOptions({ kv: "full" }));
  const budget: LayerBudget = { slots: 2, heavy: 0, recent: 2, sinks: 0, compressed: false };
  const l = new ReferenceKvLayer(policy, budget, { nHeadKv: 1, headDim: 1 });
  assert.throws(
    () => l.prefill(new Float32Array(3), new Float32Array(3), new Float32Array(3), 3),
    LimitError,
  );
  l.prefill(new Float32Array(2), new Float32Array(2), new Float32Array(2), 2);
  assert.throws(() => l.append(new Float32Array(1), new Float32Array(1)), /all 2 slots are in use/);
});

Deno.test("ReferenceKvLayer.apply() refuses to evict a protected slot", () => {
  const l = layer({ kv: "h2o" });
  l.prefill(KEYS, VALUES, SCORES, 6);
  l.append(new Float32Array(4), new Float32Array(4));
  // Slot 4 holds p6, inside the recent window.
  const decision = {
    evictSlot: new Int32Array([4, 4]),
    mergeTarget: new Int32Array([-1, -1]),
    similarity: new Float32Array(2),
    tau: NaN,
  };
  assert.throws(() => l.apply(decision), /free or protected/);
});
