/**
 * Runs a prompt (and optionally some generated tokens) through a session
 * with a KV policy, and collects what the policy did — per layer the plan and
 * the threshold's trajectory, per layer and KV head every token's fate — as
 * an {@linkcode InspectReport}. This is the opt-in, read-back-heavy path: it
 * reads the slot tables and picks back after the prefill and after every
 * decode step (in one copy per step).
 *
 * @module
 */

import type { KvSlotTableSnapshot } from "../gpu/ops/kv_slot_table.ts";
import type { KvOptions } from "../kv/option_types.ts";
import { createKvPolicy } from "../kv/registry.ts";
import type { ModelHParams } from "../model/hparams.ts";
import { kvRepeat } from "../model/repeat_kv.ts";
import type { PromptProgress } from "../model/sequence.ts";
import type { Session } from "../model/session.ts";
import { type StepReadBack, StepReader } from "./step_reader.ts";
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
  /** Called after each decode step with the steps done and asked for (progress). */
  readonly onStep?: (done: number, total: number) => void;
  /** Called between the prompt's submissions with its tokens done and in all (progress; may throw to stop). */
  readonly onPromptProgress?: PromptProgress;
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
  const { nLayer } = session.hparams;
  const nHeadKv = cacheHeads(session.hparams, store.options);
  const log: RunLog = {
    tokens: [...options.prompt],
    heads: Array.from(
      { length: nLayer },
      () => Array.from({ length: nHeadKv }, () => ({ merged: [], evicted: [] })),
    ),
    tau: Array.from({ length: nLayer }, () => []),
    // Merging policies record τ and each eviction's similarity.
    merges: createKvPolicy(store.options).spec.merge !== null,
  };

  // The session's run-ahead loop: after the prefill and after each decode step is submitted, the
  // tables and picks are copied (in queue order) and read back while later steps run.
  // The tables exist once the prefill has compressed: the reader is made when its token comes.
  let reader: StepReader | undefined;
  const captures: Promise<StepReadBack>[] = [];
  const eog = (id: number) =>
    options.stopAtEos !== false && session.tokenizer.isEndOfGeneration(id);
  try {
    let tables: KvSlotTableSnapshot[] = [];
    let step = 0;
    const steps = session.generate(
      options.prompt,
      options.generate + 1,
      () => captures.push(reader!.capture()),
      options.onPromptProgress ? { onPromptProgress: options.onPromptProgress } : {},
    );
    for await (const token of steps) {
      if (step === 0) {
        // The prefill is done and no decode step is submitted yet: the compression's outcome.
        reader = new StepReader(session.runtime.device, store.tables, store.picks);
        tables = (await reader.capture()).tables;
        recordPrefill(log, store.fates, tables);
      } else {
        const back = await captures[step - 1]!;
        const pos = options.prompt.length + step - 1;
        back.tables.forEach((after, l) =>
          recordStep(log, l, back.picks[l]!, tables[l]!, after, { step, pos })
        );
        tables = back.tables;
        options.onStep?.(step, options.generate);
      }
      if (step >= options.generate || eog(token)) break;
      log.tokens.push(token);
      step++;
    }
    await Promise.allSettled(captures);
    return buildReport(session, options, log, tables);
  } finally {
    reader?.destroy();
  }
}

/** What the run did so far: the tokens fed, per (layer, KV head) the events, per layer τ. */
interface RunLog {
  readonly tokens: number[];
  readonly heads: HeadLog[][];
  readonly tau: number[][];
  readonly merges: boolean;
}

/** Records the prefill compression's fates (−1 evicted, −2 − slot merged into that slot). */
function recordPrefill(
  log: RunLog,
  fates: Session["kvStore"]["fates"],
  tables: readonly KvSlotTableSnapshot[],
): void {
  if (!fates) throw new RangeError("Cannot inspect: the session does not record compression fates");
  const T = log.tokens.length;
  fates.forEach(({ fate, similarity }, l) => {
    const nHeadKv = log.heads[l]!.length;
    const nSlots = tables[l]!.pos.length / nHeadKv;
    for (let h = 0; h < nHeadKv; h++) {
      for (let j = 0; j < T; j++) {
        const f = fate[h * T + j]!;
        const sim = similarity[h * T + j]!;
        if (f === -1) {
          log.heads[l]![h]!.evicted.push({
            pos: j,
            step: 0,
            similarity: Number.isNaN(sim) ? null : sim,
          });
        } else if (f <= -2) {
          const into = tables[l]!.pos[h * nSlots + (-2 - f)]!;
          log.heads[l]![h]!.merged.push({ pos: j, into, similarity: sim, step: 0 });
        }
      }
    }
    if (log.merges && !Number.isNaN(tables[l]!.tau)) log.tau[l]!.push(tables[l]!.tau);
  });
}

/** The report from the log and the final tables. */
function buildReport(
  session: Session,
  options: CollectOptions,
  log: RunLog,
  tables: readonly KvSlotTableSnapshot[],
): InspectReport {
  const store = session.kvStore;
  const hp = session.hparams;
  const { nLayer } = hp;
  const nHeadKv = cacheHeads(hp, store.options!);
  const T = options.prompt.length;
  const plan = store.plan!;
  const layers: InspectLayer[] = tables.map((table, l) => {
    const nSlots = table.pos.length / nHeadKv;
    const heads = log.heads[l]!.map((events, h) => ({
      head: h,
      kept: [...table.pos.subarray(h * nSlots, (h + 1) * nSlots)].filter((p) => p >= 0)
        .sort((a, b) => a - b),
      merged: events.merged,
      evicted: events.evicted,
    }));
    return {
      layer: l,
      keptCount: heads[0]?.kept.length ?? 0,
      mergedCount: heads.reduce((s, h) => s + h.merged.length, 0),
      evictedCount: heads.reduce((s, h) => s + h.evicted.length, 0),
      tau: log.tau[l]!,
      heads,
    };
  });
  const mem = session.memory;
  return {
    version: 1,
    model: { file: options.file, name: hp.name, nLayer, nHeadKv },
    kv: store.options!,
    tokens: { ids: log.tokens, pieces: log.tokens.map((id) => session.tokenizer.piece(id)) },
    promptLength: T,
    generatedText: session.tokenizer.decode(log.tokens.slice(T)),
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
      kvTypes: store.kvTypes,
    },
  };
}

/** The decode step being recorded: its index and its token's position. */
interface StepInfo {
  readonly step: number;
  readonly pos: number;
}

/**
 * Turns one layer's decode-step picks into merge/eviction events (and τ, when
 * the policy merges). The victim's position is what its slot held before the
 * step, unless the slot is the one this step's token was written into (the
 * head's free slot): then it is the step's own token, which a layer with no
 * recent window may drop at once.
 */
function recordStep(
  log: RunLog,
  layer: number,
  picks: DataView,
  before: KvSlotTableSnapshot,
  after: KvSlotTableSnapshot,
  { step, pos }: StepInfo,
): void {
  const heads = log.heads[layer]!;
  const nSlots = after.pos.length / heads.length;
  heads.forEach((events, h) => {
    const victim = picks.getInt32(16 * h, true);
    if (victim < 0) return;
    const target = picks.getInt32(16 * h + 4, true);
    const similarity = picks.getFloat32(16 * h + 8, true);
    const victimPos = victim === before.free[h] ? pos : before.pos[h * nSlots + victim]!;
    if (target >= 0) {
      events.merged.push({
        pos: victimPos,
        into: after.pos[h * nSlots + target]!,
        similarity,
        step,
      });
    } else {
      events.evicted.push({ pos: victimPos, step, similarity: log.merges ? similarity : null });
    }
  });
  const evicted = picks.getInt32(0, true) >= 0;
  if (log.merges && evicted && !Number.isNaN(after.tau)) log.tau[layer]!.push(after.tau);
}

/** KV heads the cache holds: the model's, or `n_head` with `--select-per query-head` (repeated heads). */
function cacheHeads(hp: Pick<ModelHParams, "nHead" | "nHeadKv">, kv: KvOptions): number {
  return hp.nHeadKv * kvRepeat(hp, kv.selectPer);
}
