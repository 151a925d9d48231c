/**
 * Eviction with a recent window of 0 (`--recent-ratio 0`, a streaming budget
 * no larger than the sinks, a floor no larger than the sinks): for every
 * policy the GPU eviction matches its CPU twin at every step, and the twin's
 * victims follow the rule independently recomputed here — with no window the
 * token just written is a candidate like any other non-sink token. (SnapKV and
 * PyramidKV always keep an observation window of at least one token, so they
 * have no such case.)
 */
import assert from "node:assert/strict";
import { type KvOptionsInput, resolveKvOptions } from "../../src/kv/options.ts";
import { FREE } from "../../src/reference/kv/slot_table.ts";
import { createKvPolicy } from "../../src/kv/registry.ts";
import { ReferenceKvLayer } from "../../src/reference/kv/kv_layer.ts";
import { slotAttention } from "../../src/reference/kv/slot_attention.ts";
import { gpuTestOptions } from "../_gpu.ts";
import { prefillInputs, syntheticSequence } from "../kv/_synthetic.ts";
import { testRuntime } from "./_cases.ts";
import { budgetOf, GpuLayer, replayDecode } from "./_kv_harness.ts";

interface Case {
  name: string;
  kv: KvOptionsInput;
  slots: number;
  compressed: boolean;
}

const SHAPE = { nLayer: 1, nHead: 4, nHeadKv: 2, headDim: 8 };
const PROMPT = 10;
const STEPS = 24;

const cases: Case[] = [
  {
    name: "full, recent ratio 0",
    kv: { kv: "full", recentRatio: 0 },
    slots: 40,
    compressed: false,
  },
  {
    name: "streaming, budget = sinks",
    kv: { kv: "streaming", sinks: 4 },
    slots: 4,
    compressed: true,
  },
  {
    name: "streaming, budget < sinks",
    kv: { kv: "streaming", sinks: 4 },
    slots: 3,
    compressed: true,
  },
  { name: "h2o, recent ratio 0", kv: { kv: "h2o", recentRatio: 0 }, slots: 6, compressed: true },
  {
    name: "h2o, recent ratio 0, 2 sinks",
    kv: { kv: "h2o", recentRatio: 0, sinks: 2 },
    slots: 5,
    compressed: true,
  },
  { name: "d2o, recent ratio 0", kv: { kv: "d2o", recentRatio: 0 }, slots: 7, compressed: true },
  { name: "d2o, budget = sinks", kv: { kv: "d2o", sinks: 4 }, slots: 4, compressed: true },
  {
    name: "d2o parity, recent ratio 0",
    kv: { kv: "d2o", parity: true, recentRatio: 0 },
    slots: 6,
    compressed: true,
  },
];

function twinFor(c: Case, seed: number) {
  const policy = createKvPolicy(resolveKvOptions(c.kv));
  const twin = new ReferenceKvLayer(policy, budgetOf(c), SHAPE);
  const data = syntheticSequence(seed, SHAPE, PROMPT + STEPS)[0]!;
  const pre = prefillInputs(data, SHAPE, PROMPT);
  twin.prefill(pre.keys, pre.values, pre.scores, PROMPT);
  return { twin, data };
}

/** The victim slot of head `h` by the rule: oldest non-sink (streaming), else lowest score (newer first on ties). */
function expectedVictim(twin: ReferenceKvLayer, h: number, streaming: boolean): number {
  const { nSlots, budget } = twin;
  let best = -1;
  for (let s = 0; s < nSlots; s++) {
    const i = h * nSlots + s;
    const pos = twin.table.pos[i]!;
    if (pos === FREE || pos < budget.sinks) continue;
    if (best < 0) {
      best = s;
      continue;
    }
    const b = h * nSlots + best;
    const [pb, sb, sc] = [twin.table.pos[b]!, twin.table.score[b]!, twin.table.score[i]!];
    const below = streaming
      ? pos < pb
      : sc < sb || (sc === sb && (pos > pb || (pos === pb && s > best)));
    if (below) best = s;
  }
  return best;
}

cases.forEach((c, i) => {
  Deno.test({
    name: `kv_evict with no recent window (${c.name}, C=${c.slots}) matches the twin and the rule`,
    ...gpuTestOptions,
    async fn() {
      // The twin against the rule, step by step.
      const { twin, data } = twinFor(c, 31 + i);
      if (c.compressed) assert.equal(twin.budget.recent, 0, "the case has no recent window");
      const streaming = c.kv.kv === "streaming";
      let newestVictims = 0;
      for (let s = 0; s < STEPS; s++) {
        const t = PROMPT + s;
        twin.append(data.k[t]!, data.v[t]!);
        const view = { ...twin, pos: twin.table.pos, keys: twin.keys, values: twin.values };
        twin.accumulate(slotAttention(data.q[t]!, view, SHAPE.nHead).row);
        const expected = Array.from(
          { length: SHAPE.nHeadKv },
          (_, h) => c.compressed ? expectedVictim(twin, h, streaming) : -1,
        );
        const posBefore = twin.table.pos.slice();
        const decision = twin.evict();
        assert.deepEqual([...decision.evictSlot], expected, `step ${t}`);
        for (let h = 0; h < SHAPE.nHeadKv; h++) {
          const victim = decision.evictSlot[h]!;
          if (victim >= 0 && posBefore[h * twin.nSlots + victim] === t) newestVictims++;
          if (c.compressed) assert.equal(twin.table.occupancy(h), twin.budget.slots, `step ${t}`);
        }
      }
      if (c.compressed && twin.budget.heavy === twin.budget.sinks) {
        assert.equal(newestVictims, STEPS * SHAPE.nHeadKv, "only the new token can go");
      }
      // The GPU against the twin, step by step.
      const rt = await testRuntime();
      const fresh = twinFor(c, 31 + i);
      const gpu = new GpuLayer(rt, fresh.twin);
      const counts = await replayDecode(gpu, fresh.twin, fresh.data, PROMPT, STEPS, {
        nHead: SHAPE.nHead,
      });
      gpu.destroy();
      assert.equal(counts.evictions > 0, c.compressed);
    },
  });
});
