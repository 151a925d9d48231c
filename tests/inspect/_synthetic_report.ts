/**
 * Builds consistent synthetic {@linkcode InspectReport}s for the renderer
 * tests, without a model or a GPU: per layer and KV head, sinks and the
 * recent window are kept, the middle tokens with the highest pseudo-random
 * score fill the heavy part, and the rest alternate between merged (into the
 * nearest kept token before them) and evicted. With generated tokens the last
 * one is never cached (it was sampled, not yet run).
 *
 * @module
 */

import { type KvPolicyName, resolveKvOptions } from "../../src/kv/options.ts";
import type {
  InspectEviction,
  InspectHead,
  InspectLayer,
  InspectLayerPlan,
  InspectMerge,
  InspectReport,
} from "../../src/inspect/types.ts";

/** Shape of a synthetic report. */
export interface SyntheticOptions {
  /** Layers; default 3. */
  readonly nLayer?: number;
  /** KV heads per layer; default 2. */
  readonly nHeadKv?: number;
  /** Prompt tokens; default 24. */
  readonly promptLength?: number;
  /** Generated tokens; default 4. */
  readonly generated?: number;
  /** Policy; default `d2o` (the only one with F, α and τ). */
  readonly policy?: KvPolicyName;
  /** Replace the pieces at these positions (e.g. to test escaping). */
  readonly pieces?: Readonly<Record<number, string>>;
}

const WORDS = [" the", " cat", " sat", " on", " a", " mat", ".", " It", " was", " warm", ","];
const SINKS = 2;
const RECENT = 4;
const BYTES_PER_TOKEN_HEAD = 64;

/**
 * Builds a synthetic report.
 *
 * @param options the report's shape
 * @returns a report whose counts, budgets and memory agree with its heads
 */
export function syntheticReport(options: SyntheticOptions = {}): InspectReport {
  const nLayer = options.nLayer ?? 3;
  const nHeadKv = options.nHeadKv ?? 2;
  const promptLength = options.promptLength ?? 24;
  const generated = options.generated ?? 4;
  const policy = options.policy ?? "d2o";
  const n = promptLength + generated;
  const pieces = Array.from(
    { length: n },
    (_, i) => options.pieces?.[i] ?? WORDS[i % WORDS.length]!,
  );
  const cached = generated > 0 ? n - 1 : n;
  const d2o = policy === "d2o";

  const plan: InspectLayerPlan[] = [];
  const layers: InspectLayer[] = [];
  for (let layer = 0; layer < nLayer; layer++) {
    const heavy = SINKS + 2 + layer; // deeper layers keep more, so budgets differ
    const slots = heavy + RECENT;
    plan.push({
      layer,
      statistic: d2o ? 1 - layer / Math.max(1, nLayer - 1) : null,
      share: d2o ? 0.8 + 0.2 * layer : null,
      slots,
      heavy,
      recent: RECENT,
      sinks: SINKS,
      compressed: policy !== "full",
    });
    const heads = Array.from(
      { length: nHeadKv },
      (_, head) => syntheticHead(layer, head, cached, heavy, generated),
    );
    layers.push({
      layer,
      keptCount: heads[0]!.kept.length,
      mergedCount: heads.reduce((s, h) => s + h.merged.length, 0),
      evictedCount: heads.reduce((s, h) => s + h.evicted.length, 0),
      tau: d2o
        ? Array.from({ length: 1 + generated }, (_, k) => 0.5 + 0.3 * Math.sin(k + layer))
        : [],
      heads,
    });
  }
  const keptTokens = layers.reduce((s, l) => s + l.keptCount * nHeadKv, 0);
  const kvBytes = plan.reduce((s, p) => s + p.slots * nHeadKv, 0) * BYTES_PER_TOKEN_HEAD;
  return {
    version: 1,
    model: { file: "synthetic.gguf", name: "synthetic", nLayer, nHeadKv },
    kv: resolveKvOptions({ kv: policy }),
    tokens: { ids: pieces.map((_, i) => 100 + i), pieces },
    promptLength,
    generatedText: pieces.slice(promptLength).join(""),
    plan,
    layers,
    memory: {
      kvBytes,
      kvLiveBytes: keptTokens * BYTES_PER_TOKEN_HEAD,
      fullKvBytes: cached * nLayer * nHeadKv * BYTES_PER_TOKEN_HEAD,
      kvTypes: { k: "f32", v: "f32" },
    },
  };
}

function syntheticHead(
  layer: number,
  head: number,
  cached: number,
  heavy: number,
  generated: number,
): InspectHead {
  const score = (pos: number) => ((pos * 37 + layer * 11 + head * 5) % 23) / 23;
  const middle = Array.from({ length: Math.max(0, cached - SINKS - RECENT) }, (_, i) => i + SINKS);
  const heavyKept = [...middle].sort((a, b) => score(b) - score(a) || a - b).slice(
    0,
    heavy - SINKS,
  );
  const kept = [
    ...Array.from({ length: Math.min(SINKS, cached) }, (_, i) => i),
    ...heavyKept,
    ...Array.from({ length: Math.min(RECENT, cached - SINKS) }, (_, i) => cached - RECENT + i),
  ].filter((p) => p >= 0).sort((a, b) => a - b);
  const keptSet = new Set(kept);
  const merged: InspectMerge[] = [];
  const evicted: InspectEviction[] = [];
  for (const pos of middle.filter((p) => !keptSet.has(p))) {
    const step = Math.max(0, Math.min(generated, pos - (cached - RECENT - generated)));
    if ((pos + layer + head) % 2 === 0) {
      const into = Math.max(...kept.filter((k) => k < pos));
      merged.push({ pos, into, similarity: 0.8 + score(pos) / 10, step });
    } else {
      evicted.push({ pos, step, similarity: 0.3 + score(pos) / 10 });
    }
  }
  return { head, kept, merged, evicted };
}
