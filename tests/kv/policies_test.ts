import assert from "node:assert/strict";
import { type KvOptionsInput, resolveKvOptions } from "../../src/kv/options.ts";
import type { KvShape } from "../../src/kv/policy.ts";
import { layerSlots } from "../../src/kv/layer_spec.ts";
import { createKvPolicy } from "../../src/kv/registry.ts";
import { ReferenceKvCache } from "../../src/reference/kv/kv_cache.ts";
import type { ReferenceKvLayer } from "../../src/reference/kv/kv_layer.ts";
import type { CompressDecision, StepDecision } from "../../src/reference/kv/layer_view.ts";
import { isProtected } from "../../src/reference/kv/selection.ts";
import { slotAttention } from "../../src/reference/kv/slot_attention.ts";
import { prefillInputs, type SyntheticLayer, syntheticSequence } from "./_synthetic.ts";

// Every policy × budget (easy → hard) through prefill + 72 decode steps on
// seeded synthetic data, with the invariants checked after every step
// (docs/style.md §3). 4 layers so parity mode keeps one layer compressed.
const SHAPE: KvShape = { nLayer: 4, nHead: 4, nHeadKv: 2, headDim: 8 };
const PROMPT = 40;
const STEPS = 72;
const CAPACITY = PROMPT + STEPS;
const TOL = 1e-5;

const POLICIES: Record<string, KvOptionsInput> = {
  full: { kv: "full" },
  streaming: { kv: "streaming" },
  h2o: { kv: "h2o" },
  d2o: { kv: "d2o" },
  "d2o parity": { kv: "d2o", parity: true },
  "d2o values": { kv: "d2o", params: { mergeParts: "values" } },
  snapkv: { kv: "snapkv", params: { snapWindow: 8 } },
  "snapkv evict": { kv: "snapkv", params: { snapWindow: 8, kvDecode: "evict" } },
  pyramidkv: { kv: "pyramidkv", params: { snapWindow: 8 } },
  knorm: { kv: "knorm" },
};
const BUDGETS: Record<string, KvOptionsInput> = {
  "easy 0.8": { kvBudget: 0.8 },
  "medium 0.3": { kvBudget: 0.3 },
  "hard 0.1": { kvBudget: 0.1 },
  "tokens 12": { kvBudget: 12 },
  // Larger than the prompt: nothing evicted at prefill; τ starts at the first decode eviction.
  "tokens 60": { kvBudget: 60 },
};

/** A copy of a layer before the step's eviction. */
interface Snapshot {
  pos: Int32Array;
  score: Float32Array;
  keys: Float32Array;
  values: Float32Array;
  tau: number;
}

function snapshot(l: ReferenceKvLayer): Snapshot {
  return {
    pos: l.table.pos.slice(),
    score: l.table.score.slice(),
    keys: l.keys.slice(),
    values: l.values.slice(),
    tau: l.tau,
  };
}

function rowOf(a: Float32Array, index: number, d: number): number[] {
  return [...a.subarray(index * d, (index + 1) * d)];
}

function cosine(a: number[], b: number[]): number {
  const dot = a.reduce((s, x, i) => s + x * b[i]!, 0);
  const n = Math.hypot(...a) * Math.hypot(...b);
  return n === 0 ? 0 : dot / n;
}

function assertRowsClose(got: number[], want: number[], what: string) {
  got.forEach((x, i) =>
    assert.ok(Math.abs(x - want[i]!) < TOL, `${what}[${i}]: ${x} vs ${want[i]}`)
  );
}

/** Merged row as the test expects it, in f64: paper softmax weights or the code mean. */
function expectedMerge(target: number[], members: number[][], sims: number[], parity: boolean) {
  if (parity) {
    return target.map((x, d) =>
      (x + members.reduce((s, m, i) => s + sims[i]! * m[d]!, 0)) / (1 + members.length)
    );
  }
  const a = sims.map(Math.exp);
  const D = Math.E + a.reduce((s, x) => s + x, 0);
  return target.map((x, d) => (Math.E * x + members.reduce((s, m, i) => s + a[i]! * m[d]!, 0)) / D);
}

/** Positions present, unique per head; every position 0..newest either present or evicted exactly once. */
function checkAccounting(l: ReferenceKvLayer, evicted: Set<number>[]) {
  const { budget, nHeadKv, nSlots } = l;
  // A policy that compresses once grows past its budget while decoding.
  const bounded = l.policy.spec.decode === "evict";
  for (let h = 0; h < nHeadKv; h++) {
    const present = [...l.table.pos.subarray(h * nSlots, (h + 1) * nSlots)].filter((p) => p >= 0);
    assert.equal(new Set(present).size, present.length, `head ${h}: duplicate positions`);
    if (budget.compressed && bounded) {
      assert.ok(present.length <= budget.slots, `head ${h}: over budget`);
    }
    for (const p of present) assert.ok(!evicted[h]!.has(p), `head ${h}: p${p} evicted and present`);
    assert.equal(
      present.length + evicted[h]!.size,
      l.newestPos + 1,
      `head ${h}: a position is lost`,
    );
    for (let p = 0; p <= l.newestPos; p++) {
      if (p < budget.sinks || p > l.newestPos - budget.recent) {
        assert.ok(present.includes(p), `head ${h}: protected p${p} missing`);
      }
    }
  }
}

/** Minus the L2 norm of each key row (f64). */
function minusNorms(keys: Float32Array, rows: number, d: number): Float64Array {
  return Float64Array.from({ length: rows }, (_, i) => -Math.hypot(...rowOf(keys, i, d)));
}

/** knorm compares norms at bfloat16 precision: a score within one bf16 step (2⁻⁸) of `want`. */
function knormClose(got: number, want: number): boolean {
  return Math.abs(got - want) <= 2 ** -8 * Math.abs(want);
}

/** Whether a score is a bfloat16 value (the low 16 bits of its f32 are zero). */
function isBf16(x: number): boolean {
  return (new Uint32Array(Float32Array.of(x).buffer)[0]! & 0xffff) === 0;
}

/**
 * The prompt scores a layer ranks, computed here from the score source's
 * definition: the grouped column sums (max-pooled over the candidates when
 * the spec pools), none (0), or minus the key norms (f64).
 */
function expectedPromptScores(
  l: ReferenceKvLayer,
  p: { keys: Float32Array; scores: Float32Array },
): Float64Array {
  const { score, pool } = l.policy.spec;
  const { nHeadKv, headDim, budget } = l;
  const T = PROMPT;
  if (score === "none") return new Float64Array(nHeadKv * T);
  if (score === "knorm") return minusNorms(p.keys, nHeadKv * T, headDim);
  const out = Float64Array.from(p.scores);
  if (pool === 1) return out;
  const r = (pool - 1) / 2;
  const end = T - budget.recent;
  for (let h = 0; h < nHeadKv; h++) {
    for (let j = budget.sinks; j < end; j++) {
      const near = p.scores.subarray(
        h * T + Math.max(budget.sinks, j - r),
        h * T + Math.min(end, j + r + 1),
      );
      out[h * T + j] = Math.max(...near);
    }
  }
  return out;
}

function checkPrefill(
  l: ReferenceKvLayer,
  d: CompressDecision,
  p: { keys: Float32Array; scores: Float32Array },
  parity: boolean,
) {
  const { nHeadKv, headDim, budget } = l;
  const T = PROMPT;
  const scores = expectedPromptScores(l, p);
  // knorm ranks at bfloat16 precision: norms within one bf16 step may rank either way.
  const knorm = l.policy.spec.score === "knorm";
  const staging = {
    budget,
    newestPos: T - 1,
    pos: Int32Array.from({ length: nHeadKv * T }, (_, i) => i % T),
  };
  const sims: number[] = [];
  for (let h = 0; h < nHeadKv; h++) {
    const kept: number[] = [];
    const gone: number[] = [];
    for (let j = 0; j < T; j++) {
      const i = h * T + j;
      if (d.keep[i] === 0 && isProtected(staging, i)) {
        assert.fail(`head ${h}: protected p${j} evicted`);
      }
      if (isProtected(staging, i)) continue;
      (d.keep[i] === 1 ? kept : gone).push(j);
      if (d.keep[i] === 0) sims.push(d.similarity[i]!);
    }
    const forced = T - kept.length - gone.length;
    assert.equal(forced + kept.length, budget.slots, `head ${h}: kept count`);
    // Kept candidates = top scores (ties: older kept).
    for (const a of kept) {
      for (const b of gone) {
        const sa = scores[h * T + a]!;
        const sb = scores[h * T + b]!;
        assert.ok(
          sa > sb || (sa === sb && a < b) || (knorm && knormClose(sa, sb)),
          `head ${h}: p${b} (${sb}) beats kept p${a} (${sa})`,
        );
      }
      // A kept token carries its prompt score into its slot.
      const got = l.table.score[h * l.nSlots + l.table.find(h, a)]!;
      const want = scores[h * T + a]!;
      const close = knorm ? knormClose(got, want) && isBf16(got) : Math.abs(got - want) <= TOL;
      assert.ok(close, `head ${h}: p${a} score ${got} vs ${want}`);
    }
  }
  if (Number.isNaN(d.tau)) return;
  const mean = sims.reduce((s, x) => s + x, 0) / sims.length;
  assert.ok(Math.abs(d.tau - mean) < TOL, `first tau ${d.tau} vs mean ${mean}`);
  for (let h = 0; h < nHeadKv; h++) {
    const groups = new Map<number, number[]>();
    for (let j = 0; j < T; j++) {
      const i = h * T + j;
      const c = d.mergeTarget[i]!;
      if (c < 0) {
        if (d.keep[i] === 0 && !parity) {
          assert.ok(d.similarity[i]! < d.tau, `head ${h}: p${j} not merged`);
        }
        continue;
      }
      assert.ok(parity || d.similarity[i]! >= d.tau, `head ${h}: p${j} merged below tau`);
      assert.equal(d.keep[h * T + c], 1, `head ${h}: p${j} merged into evicted p${c}`);
      groups.set(c, [...(groups.get(c) ?? []), j]);
    }
    for (const [c, members] of groups) {
      const slot = l.table.find(h, c);
      const got = rowOf(l.keys, h * l.nSlots + slot, headDim);
      // --merge-parts values: the kept key stays as it was.
      const want = l.policy.spec.merge?.valuesOnly
        ? rowOf(p.keys, h * T + c, headDim)
        : expectedMerge(
          rowOf(p.keys, h * T + c, headDim),
          members.map((e) => rowOf(p.keys, h * T + e, headDim)),
          members.map((e) => d.similarity[h * T + e]!),
          parity,
        );
      assertRowsClose(got, want, `head ${h} merged key p${c}`);
    }
  }
}

function checkStep(
  l: ReferenceKvLayer,
  before: Snapshot,
  d: StepDecision,
  evicted: Set<number>[],
  policy: string,
) {
  const { nHeadKv, nSlots, headDim, budget } = l;
  const view = { budget, newestPos: l.newestPos, pos: before.pos };
  const occupied = [...before.pos.subarray(0, nSlots)].filter((p) => p >= 0).length;
  const evicts = l.policy.spec.decode === "evict" && budget.compressed &&
    occupied === budget.slots + 1;
  const parity = policy === "d2o parity";
  for (let h = 0; h < nHeadKv; h++) {
    const v = d.evictSlot[h]!;
    assert.equal(v >= 0, evicts, `head ${h}: eviction at occupancy ${occupied}`);
    if (v < 0) continue;
    const vi = h * nSlots + v;
    evicted[h]!.add(before.pos[vi]!);
    assert.ok(!isProtected(view, vi), `head ${h}: protected victim`);
    const others: number[] = [];
    for (let s = 0; s < nSlots; s++) {
      const i = h * nSlots + s;
      if (s === v || before.pos[i]! < 0) continue;
      others.push(s);
      if (isProtected(view, i)) continue;
      const [si, sv] = [before.score[i]!, before.score[vi]!];
      assert.ok(
        si > sv || (si === sv && before.pos[i]! < before.pos[vi]!),
        `head ${h}: victim not lowest`,
      );
      if (policy === "streaming") {
        assert.ok(before.pos[i]! > before.pos[vi]!, "streaming: not the oldest");
      }
    }
    if (!policy.startsWith("d2o")) continue;
    const vk = rowOf(before.keys, vi, headDim);
    const best = Math.max(
      ...others.map((s) => cosine(vk, rowOf(before.keys, h * nSlots + s, headDim))),
    );
    assert.ok(
      Math.abs(d.similarity[h]! - best) < TOL,
      `head ${h}: similarity ${d.similarity[h]} vs ${best}`,
    );
  }
  if (!policy.startsWith("d2o") || !evicts) {
    assert.deepEqual([...d.mergeTarget], new Array(nHeadKv).fill(-1));
    assert.ok(Object.is(d.tau, before.tau) || (Number.isNaN(d.tau) && Number.isNaN(before.tau)));
    return;
  }
  const mean = [...d.similarity].reduce((s, x) => s + x, 0) / nHeadKv;
  const beta = l.policy.spec.merge!.beta;
  const tau = Number.isNaN(before.tau) ? mean : (1 - beta) * before.tau + beta * mean;
  assert.ok(Math.abs(d.tau - tau) < TOL, `tau ${d.tau} vs ${tau}`);
  const meanF32 = Math.fround([...d.similarity].reduce((s, x) => Math.fround(s + x), 0) / nHeadKv);
  for (let h = 0; h < nHeadKv; h++) {
    const merged = d.mergeTarget[h]! >= 0;
    assert.equal(
      merged,
      parity ? meanF32 >= d.tau : d.similarity[h]! >= d.tau,
      `head ${h}: merge rule`,
    );
    if (!merged) continue;
    const c = h * nSlots + d.mergeTarget[h]!;
    const vi = h * nSlots + d.evictSlot[h]!;
    const m = d.similarity[h]!;
    const sim = cosine(rowOf(before.keys, vi, headDim), rowOf(before.keys, c, headDim));
    assert.ok(Math.abs(sim - m) < TOL, `head ${h}: target is not the nearest`);
    for (
      const [what, now, old] of [["key", l.keys, before.keys], [
        "value",
        l.values,
        before.values,
      ]] as const
    ) {
      const want = what === "key" && l.policy.spec.merge?.valuesOnly
        ? rowOf(old, c, headDim)
        : expectedMerge(rowOf(old, c, headDim), [rowOf(old, vi, headDim)], [m], parity);
      assertRowsClose(rowOf(now, c, headDim), want, `head ${h} merged ${what}`);
    }
  }
}

/** knorm: every held token's score is minus its key's norm as a bf16 (decode attention adds nothing). */
function checkNormScores(l: ReferenceKvLayer) {
  const want = minusNorms(l.keys, l.nHeadKv * l.nSlots, l.headDim);
  l.table.pos.forEach((p, i) => {
    if (p < 0) return;
    const got = l.table.score[i]!;
    assert.ok(
      knormClose(got, want[i]!) && isBf16(got),
      `slot ${i} (p${p}): score ${got} vs ${want[i]}`,
    );
  });
}

/** Runs one sequence through the cache, checking every step; returns the τ trajectory of every layer. */
function run(cache: ReferenceKvCache, data: SyntheticLayer[], policy: string): number[][] {
  const parity = policy === "d2o parity";
  return cache.layers.map((l, layer) => {
    const p = prefillInputs(data[layer]!, SHAPE, PROMPT);
    const evicted = Array.from({ length: SHAPE.nHeadKv }, () => new Set<number>());
    const d = l.prefill(p.keys, p.values, p.scores, PROMPT);
    if (d !== null) {
      checkPrefill(l, d, p, parity);
      for (let i = 0; i < d.keep.length; i++) {
        if (d.keep[i] === 0) evicted[Math.floor(i / PROMPT)]!.add(i % PROMPT);
      }
    }
    checkAccounting(l, evicted);
    const taus = [l.tau];
    for (let t = PROMPT; t < PROMPT + STEPS; t++) {
      const seq = data[layer]!;
      l.append(seq.k[t]!, seq.v[t]!);
      l.accumulate(slotAttention(seq.q[t]!, { ...l, pos: l.table.pos }, SHAPE.nHead).row);
      const before = snapshot(l);
      checkStep(l, before, l.evict(), evicted, policy);
      checkAccounting(l, evicted);
      if (l.policy.spec.score === "knorm") checkNormScores(l);
      taus.push(l.tau);
    }
    return taus;
  });
}

function planFor(policy: string, budget: string, data: SyntheticLayer[]) {
  const options = resolveKvOptions({ ...POLICIES[policy], ...BUDGETS[budget], kvMin: 4 });
  const kv = createKvPolicy(options);
  const headVariance = data.map((layer) => prefillInputs(layer, SHAPE, PROMPT).variance);
  return { kv, plan: kv.plan(SHAPE, { promptLength: PROMPT, capacity: CAPACITY, headVariance }) };
}

for (const policy of Object.keys(POLICIES)) {
  for (const budget of Object.keys(BUDGETS)) {
    Deno.test(`${policy} at budget ${budget} keeps every invariant over ${STEPS} decode steps`, () => {
      const data = syntheticSequence(11, SHAPE, CAPACITY);
      const { kv, plan } = planFor(policy, budget, data);
      const nSlots = plan.layers.map((b) => layerSlots(kv.spec, b, PROMPT, CAPACITY));
      const cache = new ReferenceKvCache(kv, plan, SHAPE, nSlots);
      const taus = run(cache, data, policy);
      if (policy === "full") {
        assert.ok(cache.layers.every((l) => l.table.occupancy(0) === CAPACITY));
      }
      if (policy.startsWith("d2o")) {
        // τ is set in every compressed layer and reset with the cache; the
        // same sequence then gives the same trajectory.
        plan.layers.forEach((b, l) => assert.equal(Number.isNaN(taus[l]!.at(-1)!), !b.compressed));
        cache.reset();
        assert.ok(cache.layers.every((l) => Number.isNaN(l.tau) && l.newestPos === -1));
        assert.deepEqual(run(cache, data, policy), taus);
      }
    });
  }
}

Deno.test("d2o merges some evicted tokens and drops others on the synthetic sequence", () => {
  const data = syntheticSequence(11, SHAPE, CAPACITY);
  const { kv, plan } = planFor("d2o", "medium 0.3", data);
  const cache = new ReferenceKvCache(kv, plan, SHAPE);
  let merged = 0;
  let dropped = 0;
  const l = cache.layers[1]!;
  const p = prefillInputs(data[1]!, SHAPE, PROMPT);
  l.prefill(p.keys, p.values, p.scores, PROMPT);
  for (let t = PROMPT; t < CAPACITY; t++) {
    const seq = data[1]!;
    const d = l.step(
      seq.k[t]!,
      seq.v[t]!,
      (layer) => slotAttention(seq.q[t]!, { ...layer, pos: layer.table.pos }, SHAPE.nHead).row,
    );
    for (let h = 0; h < SHAPE.nHeadKv; h++) {
      if (d.evictSlot[h]! < 0) continue;
      if (d.mergeTarget[h]! >= 0) merged++;
      else dropped++;
    }
  }
  assert.ok(merged > 0 && dropped > 0, `merged ${merged}, dropped ${dropped}`);
});
