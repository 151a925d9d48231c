/**
 * Shared pieces of the KV slot-table kernel tests: a GPU layer (caches, slot
 * table, step uniform, write-slot and evict ops) that can be loaded from the
 * CPU twin `ReferenceKvLayer`, read back in one copy, and compared with it.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createStorage, createStorageFrom, readBuffer } from "../../src/gpu/buffers.ts";
import {
  decodeKv,
  DEFAULT_KV_TYPES,
  encodeKv,
  kvCacheBytes,
  kvElementBytes,
  type KvType,
  type KvTypes,
  kvTypes,
} from "../../src/gpu/ops/kv_elem.ts";
import { createKvEvict, type KvEvict } from "../../src/gpu/ops/kv_evict.ts";
import {
  createKvSlotTable,
  KV_STATE_HEADER,
  type KvSlotTable,
  TAU_UNSET_BITS,
} from "../../src/gpu/ops/kv_slot_table.ts";
import { createKvWriteSlot } from "../../src/gpu/ops/kv_write_slot.ts";
import type { Dispatch, GpuRuntime } from "../../src/gpu/runtime.ts";
import { createStepBuffer, writeStep } from "../../src/gpu/step.ts";
import { splitBudget } from "../../src/kv/budget.ts";
import { gpuLayerSpec } from "../../src/kv/layer_spec.ts";
import { createKvPolicy } from "../../src/kv/registry.ts";
import { snapBudget } from "../../src/kv/snapkv.ts";
import { type KvOptionsInput, resolveKvOptions } from "../../src/kv/options.ts";
import type { LayerBudget } from "../../src/kv/policy.ts";
import type { StepDecision } from "../../src/reference/kv/layer_view.ts";
import type { ReferenceKvLayer } from "../../src/reference/kv/kv_layer.ts";
import { slotAttention } from "../../src/reference/kv/slot_attention.ts";
import type { SyntheticLayer } from "../kv/_synthetic.ts";
import { submitPass } from "./_cases.ts";

/**
 * The K/V element types the twin tests run: f32, f16, and f16 keys over f32
 * values (llama.cpp's `-ctk f16 -ctv f32`: the kernels read K and V through
 * their own formats).
 */
export const KV_TYPE_PAIRS: readonly KvTypes[] = [
  kvTypes("f32"),
  kvTypes("f16"),
  kvTypes("f16", "f32"),
];

/** A test name's words for a pair: `f32`, `f16`, or `K f16 V f32`. */
export function kvTypesName(types: KvTypes): string {
  return types.k === types.v ? types.k : `K ${types.k} V ${types.v}`;
}

/** The budget a test case's layer runs with: `C` tokens split by the policy, or `C` recent slots uncompressed. */
export function budgetOf(
  c: { kv: KvOptionsInput; slots: number; compressed: boolean },
): LayerBudget {
  if (!c.compressed) {
    return { slots: c.slots, heavy: 0, recent: c.slots, sinks: 0, compressed: false };
  }
  const o = resolveKvOptions(c.kv);
  // A window-scored policy (snapkv) keeps its observation window as the recent part.
  const spec = createKvPolicy(o).spec;
  if (spec.score === "window") return snapBudget(c.slots, spec.window, o.sinks);
  return splitBudget(c.slots, c.kv.kv === "streaming" ? 1 : o.recentRatio, o.sinks);
}

/** A new cache buffer of `type` holding `values` (f16: rounded to nearest even). */
export function kvStorageOf(
  device: GPUDevice,
  type: KvType,
  values: Float32Array,
  label: string,
): GPUBuffer {
  return createStorageFrom(device, encodeKv(type, values), label);
}

/** Reads `count` elements of a cache buffer of `type` back as f32. */
export async function readKv(
  device: GPUDevice,
  type: KvType,
  buffer: GPUBuffer,
  count: number,
): Promise<Float32Array> {
  const bytes = Math.ceil((count * kvElementBytes(type)) / 4) * 4;
  return decodeKv(type, await readBuffer(device, buffer, bytes), count);
}

/** Reads several buffers back with one submit; returns their bytes in order. */
export async function readAll(
  device: GPUDevice,
  parts: ReadonlyArray<readonly [GPUBuffer, number]>,
): Promise<ArrayBuffer[]> {
  const total = parts.reduce((n, [, bytes]) => n + bytes, 0);
  const staging = device.createBuffer({
    size: total,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  const encoder = device.createCommandEncoder();
  let offset = 0;
  for (const [buffer, bytes] of parts) {
    encoder.copyBufferToBuffer(buffer, 0, staging, offset, bytes);
    offset += bytes;
  }
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const all = staging.getMappedRange().slice(0);
  staging.destroy();
  offset = 0;
  return parts.map(([, bytes]) => {
    const part = all.slice(offset, offset + bytes);
    offset += bytes;
    return part;
  });
}

/** Largest absolute difference of two equally long arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** A layer's state: what the GPU holds and what a twin snapshot records. */
export interface LayerState {
  /** Positions `[nHeadKv][nSlots]`. */
  readonly pos: Int32Array;
  /** Scores `[nHeadKv][nSlots]`. */
  readonly score: Float32Array;
  /** τ (NaN while unset). */
  readonly tau: number;
  /** Tokens per head. */
  readonly count: number;
  /** Next slot per head. */
  readonly free: Uint32Array;
  /** Keys `[nHeadKv][nSlots][headDim]`. */
  readonly keys: Float32Array;
  /** Values `[nHeadKv][nSlots][headDim]`. */
  readonly values: Float32Array;
}

/** A GPU layer's state plus the evict op's picks. */
export interface GpuLayerState extends LayerState {
  /** Per head: victim, target, similarity bits, 0. */
  readonly picks: Uint32Array;
}

/** Copies a twin layer's state (the free slot of a full head is recorded as nSlots). */
export function snapshotTwin(twin: ReferenceKvLayer): LayerState {
  const free = new Uint32Array(twin.nHeadKv);
  for (let h = 0; h < twin.nHeadKv; h++) {
    const s = twin.table.freeSlot(h);
    free[h] = s < 0 ? twin.nSlots : s;
  }
  return {
    pos: twin.table.pos.slice(),
    score: twin.table.score.slice(),
    tau: twin.tau,
    count: twin.table.occupancy(0),
    free,
    keys: twin.keys.slice(),
    values: twin.values.slice(),
  };
}

/** One layer's slot cache on the GPU with its per-token ops, mirroring a twin layer. */
export class GpuLayer {
  readonly rt: GpuRuntime;
  readonly nHeadKv: number;
  readonly nSlots: number;
  readonly headDim: number;
  /** Element types of the key and the value cache (the twin's). */
  readonly kvTypes: KvTypes;
  readonly kCache: GPUBuffer;
  readonly vCache: GPUBuffer;
  readonly table: KvSlotTable;
  readonly step: GPUBuffer;
  readonly kRow: GPUBuffer;
  readonly vRow: GPUBuffer;
  readonly write: Dispatch;
  readonly evict: KvEvict;

  /** Allocates the GPU side of `twin` (same budget, policy, layout and element type). */
  constructor(rt: GpuRuntime, twin: ReferenceKvLayer) {
    const { nHeadKv, nSlots, headDim, budget, kvTypes } = twin;
    const device = rt.device;
    this.rt = rt;
    this.nHeadKv = nHeadKv;
    this.nSlots = nSlots;
    this.headDim = headDim;
    this.kvTypes = kvTypes;
    const bytesOf = (type: KvType) => kvCacheBytes(type, nHeadKv, nSlots, headDim);
    this.kCache = createStorage(device, bytesOf(kvTypes.k), "test.k_cache");
    this.vCache = createStorage(device, bytesOf(kvTypes.v), "test.v_cache");
    this.table = createKvSlotTable(rt, { nHeadKv, nSlots, label: "test" });
    this.step = createStepBuffer(device, "test.step");
    this.kRow = createStorage(device, nHeadKv * headDim * 4, "test.k_row");
    this.vRow = createStorage(device, nHeadKv * headDim * 4, "test.v_row");
    const caches = {
      kCache: this.kCache,
      vCache: this.vCache,
      kvTypes,
      table: this.table,
      headDim,
    };
    const layer = gpuLayerSpec(twin.policy.spec, budget, nSlots);
    // The write gives each token the score source's first score, as the twin's append does.
    const row = { k: this.kRow, v: this.vRow, step: this.step, score: layer.score! };
    this.write = createKvWriteSlot(rt, { ...caches, ...row });
    this.evict = createKvEvict(rt, { ...caches, layer, step: this.step });
  }

  /** Queues a write of a whole layer state (K, V as the caches' type stores them, table, τ, count, free slots). */
  load(state: LayerState): void {
    const q = this.rt.device.queue;
    q.writeBuffer(this.kCache, 0, encodeKv(this.kvTypes.k, state.keys));
    q.writeBuffer(this.vCache, 0, encodeKv(this.kvTypes.v, state.values));
    q.writeBuffer(this.table.pos, 0, state.pos.slice());
    q.writeBuffer(this.table.score, 0, state.score.slice());
    const words = new Uint32Array(KV_STATE_HEADER + this.nHeadKv);
    if (Number.isNaN(state.tau)) words[0] = TAU_UNSET_BITS;
    else new Float32Array(words.buffer, 0, 1)[0] = state.tau;
    words[1] = state.count;
    words.set(state.free, KV_STATE_HEADER);
    q.writeBuffer(this.table.state, 0, words);
  }

  /** Queues the token at `pos` and submits the write into the GPU's free slots. */
  writeToken(k: Float32Array, v: Float32Array, pos: number): void {
    const q = this.rt.device.queue;
    q.writeBuffer(this.kRow, 0, k.slice());
    q.writeBuffer(this.vRow, 0, v.slice());
    writeStep(this.rt.device, this.step, { pos, nTokens: 1, nKv: pos + 1, seed: 0 });
    submitPass(this.rt.device, [this.write]);
  }

  /** The buffers and byte counts {@linkcode GpuLayer.record} copies, in order. */
  parts(): Array<readonly [GPUBuffer, number]> {
    const cells = this.nHeadKv * this.nSlots * 4;
    const cache = (type: KvType) => kvCacheBytes(type, this.nHeadKv, this.nSlots, this.headDim);
    return [
      [this.table.pos, cells],
      [this.table.score, cells],
      [this.table.state, (KV_STATE_HEADER + this.nHeadKv) * 4],
      [this.kCache, cache(this.kvTypes.k)],
      [this.vCache, cache(this.kvTypes.v)],
      [this.evict.picks, this.nHeadKv * 16],
    ];
  }

  /** Bytes of one recorded state. */
  get stateBytes(): number {
    return this.parts().reduce((n, [, b]) => n + b, 0);
  }

  /** Submits copies of the whole state into `history` at `offset` (no read-back). */
  record(history: GPUBuffer, offset: number): void {
    const encoder = this.rt.device.createCommandEncoder();
    for (const [buffer, bytes] of this.parts()) {
      encoder.copyBufferToBuffer(buffer, 0, history, offset, bytes);
      offset += bytes;
    }
    this.rt.device.queue.submit([encoder.finish()]);
  }

  /** Parses a recorded state from `bytes` at `offset`. */
  parse(bytes: ArrayBuffer, offset: number): GpuLayerState {
    const out: ArrayBuffer[] = [];
    for (const [, n] of this.parts()) {
      out.push(bytes.slice(offset, offset + n));
      offset += n;
    }
    const [pos, score, state, keys, values, picks] = out as [
      ArrayBuffer,
      ArrayBuffer,
      ArrayBuffer,
      ArrayBuffer,
      ArrayBuffer,
      ArrayBuffer,
    ];
    const words = new Uint32Array(state);
    return {
      pos: new Int32Array(pos),
      score: new Float32Array(score),
      tau: new Float32Array(state, 0, 1)[0]!,
      count: words[1]!,
      free: words.slice(KV_STATE_HEADER),
      keys: decodeKv(this.kvTypes.k, keys),
      values: decodeKv(this.kvTypes.v, values),
      picks: new Uint32Array(picks),
    };
  }

  /** Creates a buffer for `steps` recorded states. */
  createHistory(steps: number): GPUBuffer {
    return this.rt.device.createBuffer({
      label: "test.history",
      size: steps * this.stateBytes,
      usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
    });
  }

  /** Reads the GPU layer back now. */
  async read(): Promise<GpuLayerState> {
    const history = this.createHistory(1);
    this.record(history, 0);
    const [bytes] = await readAll(this.rt.device, [[history, this.stateBytes]]);
    history.destroy();
    return this.parse(bytes!, 0);
  }

  /** Frees the GPU buffers. */
  destroy(): void {
    for (const b of [this.kCache, this.vCache, this.step, this.kRow, this.vRow]) b.destroy();
    this.table.destroy();
    this.evict.picks.destroy();
  }
}

/** Tolerance of merged K/V rows (f32 cache) and τ against the twin. */
export const KV_TOLERANCE = 1e-5;

/**
 * Tolerance of one K/V element against the twin's `want`: {@linkcode KV_TOLERANCE}
 * for an f32 cache; for an f16 cache also one f16 ulp (≤ 2⁻¹⁰·|want|), since a
 * merged row's f32 value, which may differ through exp(), is rounded to f16.
 * Copied rows are bit-exact in both types (the twin rounds as the GPU does).
 */
export function kvTolerance(type: KvType, want: number): number {
  return type === "f16" ? KV_TOLERANCE + 2 ** -10 * Math.abs(want) : KV_TOLERANCE;
}

/**
 * Asserts a GPU layer state equals a twin snapshot: positions, scores, free
 * slots and occupancy exactly, τ within {@linkcode KV_TOLERANCE} and K/V
 * (occupied slots) within {@linkcode kvTolerance} of their element types.
 */
export function assertSameLayer(
  gpu: LayerState,
  twin: LayerState,
  at: string,
  types: KvTypes = DEFAULT_KV_TYPES,
): void {
  const headDim = twin.keys.length / twin.pos.length;
  assert.deepEqual(gpu.pos, twin.pos, `${at}: positions`);
  assert.deepEqual(gpu.score, twin.score, `${at}: scores`);
  assert.equal(gpu.count, twin.count, `${at}: count`);
  assert.deepEqual(gpu.free, twin.free, `${at}: free slots`);
  if (Number.isNaN(twin.tau)) assert.ok(Number.isNaN(gpu.tau), `${at}: τ unset`);
  else {assert.ok(
      Math.abs(gpu.tau - twin.tau) <= KV_TOLERANCE,
      `${at}: τ ${gpu.tau} vs ${twin.tau}`,
    );}
  // Worst ratio of an element's difference to its tolerance (≤ 1 passes).
  let worst = 0;
  let where = "";
  for (let i = 0; i < twin.pos.length; i++) {
    if (twin.pos[i] === -1) continue;
    for (let d = 0; d < headDim; d++) {
      const j = i * headDim + d;
      for (
        const [name, got, want, type] of [
          ["K", gpu.keys, twin.keys, types.k],
          ["V", gpu.values, twin.values, types.v],
        ] as const
      ) {
        const ratio = Math.abs(got[j]! - want[j]!) / kvTolerance(type, want[j]!);
        if (ratio > worst) [worst, where] = [ratio, `${name}[${j}] ${got[j]} vs ${want[j]}`];
      }
    }
  }
  assert.ok(worst <= 1, `${at}: ${kvTypesName(types)} K/V differ past the tolerance: ${where}`);
}

/** Asserts the GPU's per-head picks equal a twin decode decision (similarities bit-exact). */
export function assertSamePicks(gpu: GpuLayerState, decision: StepDecision, at: string): void {
  const picks = new Int32Array(gpu.picks.buffer);
  const sims = new Float32Array(gpu.picks.buffer);
  for (let h = 0; h < decision.evictSlot.length; h++) {
    assert.equal(picks[4 * h], decision.evictSlot[h], `${at}: victim of head ${h}`);
    assert.equal(picks[4 * h + 1], decision.mergeTarget[h], `${at}: merge target of head ${h}`);
    const want = decision.similarity[h]!;
    const got = sims[4 * h + 2]!;
    assert.ok(
      Number.isNaN(want) ? Number.isNaN(got) : got === want,
      `${at}: similarity of head ${h}: ${got} vs ${want}`,
    );
  }
}

/** Coarse scores (mostly 0, a few whole numbers) so that many candidates tie. */
export function coarse(x: number): number {
  return Math.floor(x / 4);
}

/** Keys snapped to 3 exact vectors per head, so similarities tie. */
export function tiedKeys(data: SyntheticLayer, nHeadKv: number, headDim: number): SyntheticLayer {
  const k = data.k.map((row, t) => {
    const out = new Float32Array(row.length);
    for (let h = 0; h < nHeadKv; h++) {
      for (let d = 0; d < headDim; d++) {
        out[h * headDim + d] = (t * 7 + h) % 3 === d % 3 ? 1 : 0.5;
      }
    }
    return out;
  });
  return { ...data, k };
}

/** Options of {@linkcode replayDecode}. */
export interface ReplayOptions {
  /** Query heads of the synthetic attention. */
  readonly nHead: number;
  /** Applied to every attention row before it is accumulated (e.g. {@linkcode coarse}). */
  readonly transform?: (x: number) => number;
  /** Start from the GPU's current state instead of loading the twin's (after a GPU compression). */
  readonly fromGpu?: boolean;
}

/**
 * Runs `steps` decode steps (tokens `first ..`) on the twin, replaying each on
 * the GPU with identical inputs: before each step the GPU is loaded with the
 * twin's state (merged rows agree only within tolerance), gets the step's
 * token and the twin's accumulated scores, evicts, and records its state; one
 * read-back at the end compares every step (state and picks).
 *
 * @returns evicted and merged tokens summed over steps and heads
 */
export async function replayDecode(
  gpu: GpuLayer,
  twin: ReferenceKvLayer,
  data: SyntheticLayer,
  first: number,
  steps: number,
  options: ReplayOptions,
): Promise<{ evictions: number; merges: number }> {
  const device = gpu.rt.device;
  const history = gpu.createHistory(steps);
  const expected: Array<{ state: LayerState; decision: StepDecision }> = [];
  let before = snapshotTwin(twin);
  for (let s = 0; s < steps; s++) {
    const t = first + s;
    if (s > 0 || !options.fromGpu) gpu.load(before);
    gpu.writeToken(data.k[t]!, data.v[t]!, t);
    twin.append(data.k[t]!, data.v[t]!);
    const view = { ...twin, pos: twin.table.pos, keys: twin.keys, values: twin.values };
    const row = slotAttention(data.q[t]!, view, options.nHead).row;
    twin.accumulate(options.transform ? row.map(options.transform) : row);
    device.queue.writeBuffer(gpu.table.score, 0, twin.table.score.slice());
    submitPass(device, [gpu.evict]);
    gpu.record(history, s * gpu.stateBytes);
    const decision = twin.evict();
    before = snapshotTwin(twin);
    expected.push({ state: before, decision });
  }
  const [bytes] = await readAll(device, [[history, steps * gpu.stateBytes]]);
  let evictions = 0;
  let merges = 0;
  expected.forEach(({ state, decision }, s) => {
    const at = `step ${first + s}`;
    const got = gpu.parse(bytes!, s * gpu.stateBytes);
    assertSamePicks(got, decision, at);
    assertSameLayer(got, state, at, gpu.kvTypes);
    evictions += decision.evictSlot.filter((v) => v >= 0).length;
    merges += decision.mergeTarget.filter((v) => v >= 0).length;
  });
  history.destroy();
  return { evictions, merges };
}
