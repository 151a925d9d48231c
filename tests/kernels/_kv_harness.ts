/**
 * Shared pieces of the KV slot-table kernel tests: a GPU layer (caches, slot
 * table, step uniform, write-slot and evict ops) that can be loaded from the
 * CPU twin `ReferenceKvLayer`, read back in one copy, and compared with it.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createStorage, createStorageFrom } from "../../src/gpu/buffers.ts";
import { createKvEvict, type KvEvict } from "../../src/gpu/ops/kv_evict.ts";
import {
  createKvSlotTable,
  KV_STATE_HEADER,
  type KvSlotTable,
  TAU_UNSET_BITS,
} from "../../src/gpu/ops/kv_slot_table.ts";
import { createKvWriteSlot } from "../../src/gpu/ops/kv_write_slot.ts";
import { createRuntime, type Dispatch, type GpuRuntime } from "../../src/gpu/runtime.ts";
import { createStepBuffer, writeStep } from "../../src/gpu/step.ts";
import type { StepDecision } from "../../src/kv/policy.ts";
import type { ReferenceKvLayer } from "../../src/reference/kv/kv_layer.ts";
import { testGpu } from "../_gpu.ts";

let shared: GpuRuntime | undefined;

/** The shared test runtime. */
export async function kvRuntime(): Promise<GpuRuntime> {
  return shared ??= createRuntime(await testGpu());
}

/** Records `dispatches` into one compute pass and submits it. */
export function submit(device: GPUDevice, dispatches: readonly Dispatch[]): void {
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  for (const d of dispatches) d.encode(pass);
  pass.end();
  device.queue.submit([encoder.finish()]);
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

/** Everything of a GPU layer read back at once. */
export interface GpuLayerState {
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
  /** Per head: victim, target, similarity bits, 0. */
  readonly picks: Uint32Array;
}

/** One layer's slot cache on the GPU with its per-token ops, mirroring a twin layer. */
export class GpuLayer {
  readonly rt: GpuRuntime;
  readonly twin: ReferenceKvLayer;
  readonly kCache: GPUBuffer;
  readonly vCache: GPUBuffer;
  readonly table: KvSlotTable;
  readonly step: GPUBuffer;
  readonly kRow: GPUBuffer;
  readonly vRow: GPUBuffer;
  readonly write: Dispatch;
  readonly evict: KvEvict;

  /** Allocates the GPU side of `twin` (same budget, policy and layout). */
  constructor(rt: GpuRuntime, twin: ReferenceKvLayer) {
    const { nHeadKv, nSlots, headDim, budget } = twin;
    const device = rt.device;
    this.rt = rt;
    this.twin = twin;
    this.kCache = createStorage(device, nHeadKv * nSlots * headDim * 4, "test.k_cache");
    this.vCache = createStorage(device, nHeadKv * nSlots * headDim * 4, "test.v_cache");
    this.table = createKvSlotTable(rt, { nHeadKv, nSlots, label: "test" });
    this.step = createStepBuffer(device, "test.step");
    this.kRow = createStorage(device, nHeadKv * headDim * 4, "test.k_row");
    this.vRow = createStorage(device, nHeadKv * headDim * 4, "test.v_row");
    const caches = { kCache: this.kCache, vCache: this.vCache, table: this.table, headDim };
    this.write = createKvWriteSlot(rt, { ...caches, k: this.kRow, v: this.vRow, step: this.step });
    this.evict = createKvEvict(rt, {
      ...caches,
      options: twin.policy.options,
      budget,
      step: this.step,
    });
  }

  /** Copies the twin's whole state (K, V, table, τ, count, free slots) to the GPU. */
  load(): void {
    const { twin, table } = this;
    const q = this.rt.device.queue;
    q.writeBuffer(this.kCache, 0, twin.keys.slice());
    q.writeBuffer(this.vCache, 0, twin.values.slice());
    q.writeBuffer(table.pos, 0, twin.table.pos.slice());
    q.writeBuffer(table.score, 0, twin.table.score.slice());
    const state = new Uint32Array(KV_STATE_HEADER + twin.nHeadKv);
    const tau = new Float32Array(state.buffer, 0, 1);
    if (Number.isNaN(twin.tau)) state[0] = TAU_UNSET_BITS;
    else tau[0] = twin.tau;
    state[1] = twin.table.occupancy(0);
    for (let h = 0; h < twin.nHeadKv; h++) state[KV_STATE_HEADER + h] = twin.table.freeSlot(h);
    q.writeBuffer(table.state, 0, state);
  }

  /** Writes the token at `pos` into the GPU's free slots (the twin is not touched). */
  writeToken(k: Float32Array, v: Float32Array, pos: number): void {
    const q = this.rt.device.queue;
    q.writeBuffer(this.kRow, 0, k.slice());
    q.writeBuffer(this.vRow, 0, v.slice());
    writeStep(this.rt.device, this.step, { pos, nTokens: 1, nKv: pos + 1, seed: 0 });
    submit(this.rt.device, [this.write]);
  }

  /** Reads the GPU layer back. */
  async read(): Promise<GpuLayerState> {
    const { nHeadKv, nSlots, headDim } = this.twin;
    const cells = nHeadKv * nSlots * 4;
    const [pos, score, state, keys, values, picks] = await readAll(this.rt.device, [
      [this.table.pos, cells],
      [this.table.score, cells],
      [this.table.state, (KV_STATE_HEADER + nHeadKv) * 4],
      [this.kCache, cells * headDim],
      [this.vCache, cells * headDim],
      [this.evict.picks, nHeadKv * 16],
    ]) as [ArrayBuffer, ArrayBuffer, ArrayBuffer, ArrayBuffer, ArrayBuffer, ArrayBuffer];
    const words = new Uint32Array(state);
    return {
      pos: new Int32Array(pos),
      score: new Float32Array(score),
      tau: new Float32Array(state, 0, 1)[0]!,
      count: words[1]!,
      free: words.slice(KV_STATE_HEADER),
      keys: new Float32Array(keys),
      values: new Float32Array(values),
      picks: new Uint32Array(picks),
    };
  }

  /** Frees the GPU buffers. */
  destroy(): void {
    for (const b of [this.kCache, this.vCache, this.step, this.kRow, this.vRow]) b.destroy();
    this.table.destroy();
    this.evict.picks.destroy();
  }
}

/** Tolerance of merged K/V rows and τ against the twin. */
export const KV_TOLERANCE = 1e-5;

/**
 * Asserts the GPU layer equals the twin: positions, scores, free slots and
 * occupancy exactly, τ and K/V (occupied slots) within {@linkcode KV_TOLERANCE}.
 */
export function assertSameLayer(gpu: GpuLayerState, twin: ReferenceKvLayer, at: string): void {
  const { nHeadKv, nSlots, headDim } = twin;
  assert.deepEqual(gpu.pos, twin.table.pos, `${at}: positions`);
  assert.deepEqual(gpu.score, twin.table.score, `${at}: scores`);
  assert.equal(gpu.count, twin.table.occupancy(0), `${at}: count`);
  for (let h = 0; h < nHeadKv; h++) {
    const free = twin.table.freeSlot(h);
    if (free >= 0) assert.equal(gpu.free[h], free, `${at}: free slot of head ${h}`);
  }
  if (Number.isNaN(twin.tau)) assert.ok(Number.isNaN(gpu.tau), `${at}: τ unset`);
  else assert.ok(Math.abs(gpu.tau - twin.tau) <= KV_TOLERANCE, `${at}: τ ${gpu.tau} vs ${twin.tau}`);
  let worst = 0;
  for (let i = 0; i < nHeadKv * nSlots; i++) {
    if (twin.table.pos[i] === -1) continue;
    for (let d = 0; d < headDim; d++) {
      const j = i * headDim + d;
      worst = Math.max(
        worst,
        Math.abs(gpu.keys[j]! - twin.keys[j]!),
        Math.abs(gpu.values[j]! - twin.values[j]!),
      );
    }
  }
  assert.ok(worst <= KV_TOLERANCE, `${at}: K/V differ by ${worst}`);
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

/** Creates a storage buffer from data (test inputs). */
export function storage(device: GPUDevice, data: ArrayBufferView, label: string): GPUBuffer {
  return createStorageFrom(device, data, label);
}
