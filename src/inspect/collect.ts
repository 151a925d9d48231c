/**
 * Runs a prompt (and optionally some generated tokens) through a session
 * with a KV policy, and collects what the policy did — per layer the plan and
 * the threshold's trajectory, per layer and KV head every token's fate — as
 * an {@linkcode InspectReport}. This is the opt-in, read-back-heavy path: it
 * reads the slot tables back after the prefill and after every decode step.
 *
 * @module
 */

import { readBuffer } from "../gpu/buffers.ts";
import type { KvSlotTableSnapshot } from "../gpu/ops/kv_slot_table.ts";
import { createKvPolicy } from "../kv/registry.ts";
import type { Session } from "../model/session.ts";
import type { InspectEviction, InspectLayer, InspectMerge, InspectReport } from "./types.ts";

/** What to run. */
export interface CollectOptions {
  /** Model file, for the report. */
  readonly file: string;
  /** Prompt token ids (BOS included). */
  readonly prompt: readonly number[];
  /** Tokens to generate (greedy or as the session's sampler says) after the prompt. */
  readonly generate: number;
  /** Stop early at an end-of-generation token. */
  readonly stopAtEos?: boolean;
}

/** Per (layer, KV head) events as they happen. */
interface HeadLog {
  merged: InspectMerge[];
  evicted: InspectEviction[];
}

/**
 * Runs the prompt and the generated tokens and returns the report.
 *
 * @param session a session opened with a KV policy and `recordFates`
 * @param options prompt, generation length and file name
 * @throws {RangeError} when the session has no policy store recording fates
 */
export async function collectInspect(
  session: Session,
  options: CollectOptions,
): Promise<InspectReport> {
  const store = session.kvStore;
  if (!store.compresses || store.options === undefined) {
    throw new RangeError("Cannot inspect a session without a KV policy");
  }
  const hp = session.hparams;
  const { nLayer, nHeadKv } = hp;
  const dev = session.runtime.device;
  // Merging policies record τ and each eviction's similarity.
  const d2o = createKvPolicy(store.options).spec.merge !== null;
  const tokens = [...options.prompt];
  const T = tokens.length;
  const logs: HeadLog[][] = Array.from(
    { length: nLayer },
    () => Array.from({ length: nHeadKv }, () => ({ merged: [], evicted: [] })),
  );
  const tau: number[][] = Array.from({ length: nLayer }, () => []);
  const readTables = () => Promise.all(store.tables.map((t) => t.read()));

  // prefill and its compression
  let next = await session.prefill(options.prompt);
  let tables = await readTables();
  const fates = store.fates;
  if (!fates) throw new RangeError("Cannot inspect: the session does not record compression fates");
  fates.forEach(({ fate, similarity }, l) => {
    const nSlots = tables[l]!.pos.length / nHeadKv;
    for (let h = 0; h < nHeadKv; h++) {
      for (let j = 0; j < T; j++) {
        const f = fate[h * T + j]!;
        const sim = similarity[h * T + j]!;
        if (f === -1) {
          logs[l]![h]!.evicted.push({
            pos: j,
            step: 0,
            similarity: Number.isNaN(sim) ? null : sim,
          });
        } else if (f <= -2) {
          const into = tables[l]!.pos[h * nSlots + (-2 - f)]!;
          logs[l]![h]!.merged.push({ pos: j, into, similarity: sim, step: 0 });
        }
      }
    }
    if (d2o && !Number.isNaN(tables[l]!.tau)) tau[l]!.push(tables[l]!.tau);
  });

  // decode steps: each one's eviction, read from the picks and the tables before and after
  const eog = (id: number) =>
    options.stopAtEos !== false && session.tokenizer.isEndOfGeneration(id);
  for (let step = 1; step <= options.generate && !eog(next); step++) {
    tokens.push(next);
    const before = tables;
    next = await session.decode(next);
    tables = await readTables();
    const picks = await Promise.all(
      store.picks.map(async (b) => new DataView(await readBuffer(dev, b, nHeadKv * 16))),
    );
    for (let l = 0; l < nLayer; l++) {
      recordStep(logs[l]!, picks[l]!, before[l]!, tables[l]!, { step, pos: T + step - 1, d2o });
      const evicted = picks[l]!.getInt32(0, true) >= 0;
      if (d2o && evicted && !Number.isNaN(tables[l]!.tau)) tau[l]!.push(tables[l]!.tau);
    }
  }

  const plan = store.plan!;
  const pieces = tokens.map((id) => session.tokenizer.piece(id));
  const layers: InspectLayer[] = tables.map((table, l) => {
    const nSlots = table.pos.length / nHeadKv;
    const heads = logs[l]!.map((log, h) => ({
      head: h,
      kept: [...table.pos.subarray(h * nSlots, (h + 1) * nSlots)].filter((p) => p >= 0).sort((
        a,
        b,
      ) => a - b),
      merged: log.merged,
      evicted: log.evicted,
    }));
    return {
      layer: l,
      keptCount: heads[0]?.kept.length ?? 0,
      mergedCount: heads.reduce((s, h) => s + h.merged.length, 0),
      evictedCount: heads.reduce((s, h) => s + h.evicted.length, 0),
      tau: tau[l]!,
      heads,
    };
  });
  const mem = session.memory;
  return {
    version: 1,
    model: { file: options.file, name: hp.name, nLayer, nHeadKv },
    kv: store.options,
    tokens: { ids: tokens, pieces },
    promptLength: T,
    generatedText: session.tokenizer.decode(tokens.slice(T)),
    plan: plan.layers.map((b, l) => ({
      layer: l,
      statistic: plan.statistic?.[l] ?? null,
      share: plan.share?.[l] ?? null,
      slots: b.slots,
      heavy: b.heavy,
      recent: b.recent,
      sinks: b.sinks,
      compressed: b.compressed,
    })),
    layers,
    memory: {
      kvBytes: mem.kvBytes,
      kvLiveBytes: mem.kvLiveBytes,
      fullKvBytes: mem.kvFullBytes,
    },
  };
}

/** The decode step being recorded: its index, its token's position, and whether the policy is d2o. */
interface StepInfo {
  readonly step: number;
  readonly pos: number;
  readonly d2o: boolean;
}

/**
 * Turns one layer's decode-step picks into merge/eviction events. The victim's
 * position is what its slot held before the step, unless the slot is the one
 * this step's token was written into (the head's free slot): then it is the
 * step's own token, which a layer with no recent window may drop at once.
 */
function recordStep(
  heads: HeadLog[],
  picks: DataView,
  before: KvSlotTableSnapshot,
  after: KvSlotTableSnapshot,
  { step, pos, d2o }: StepInfo,
): void {
  const nSlots = after.pos.length / heads.length;
  heads.forEach((log, h) => {
    const victim = picks.getInt32(16 * h, true);
    if (victim < 0) return;
    const target = picks.getInt32(16 * h + 4, true);
    const similarity = picks.getFloat32(16 * h + 8, true);
    const victimPos = victim === before.free[h] ? pos : before.pos[h * nSlots + victim]!;
    if (target >= 0) {
      log.merged.push({ pos: victimPos, into: after.pos[h * nSlots + target]!, similarity, step });
    } else {
      log.evicted.push({ pos: victimPos, step, similarity: d2o ? similarity : null });
    }
  });
}
