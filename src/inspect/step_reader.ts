/**
 * Reads back, in one copy and one map per step, every layer's slot table
 * (positions, scores, state) and eviction picks: what `compress-inspect`
 * needs after each decode step, without a submit and a map per buffer, and
 * without waiting for it before the next steps are submitted.
 *
 * @module
 */

import {
  KV_STATE_HEADER,
  type KvSlotTable,
  type KvSlotTableSnapshot,
} from "../gpu/ops/kv_slot_table.ts";

/** One step's read-back: per layer the table snapshot and the picks (`[nHeadKv][4]` words). */
export interface StepReadBack {
  readonly tables: KvSlotTableSnapshot[];
  readonly picks: DataView[];
}

/**
 * Copies of every layer's slot table and picks, taken between GPU steps: each
 * `capture` records the copies now (so it sees the state the steps submitted
 * so far leave) and reads them back later, through a pool of staging buffers
 * so several captures can be in flight while steps run ahead.
 */
export class StepReader {
  readonly #device: GPUDevice;
  readonly #tables: readonly KvSlotTable[];
  readonly #picks: readonly GPUBuffer[];
  readonly #free: GPUBuffer[] = [];
  readonly #all: GPUBuffer[] = [];
  readonly #bytes: number;
  readonly #layout: { cells: number; stateWords: number; pickBytes: number; at: number }[];

  /**
   * @param device the session's device
   * @param tables every layer's slot table
   * @param picks every layer's eviction picks buffer (16 bytes per KV head)
   */
  constructor(device: GPUDevice, tables: readonly KvSlotTable[], picks: readonly GPUBuffer[]) {
    this.#device = device;
    this.#tables = tables;
    this.#picks = picks;
    let at = 0;
    this.#layout = tables.map((t) => {
      const entry = {
        cells: t.nHeadKv * t.nSlots,
        stateWords: KV_STATE_HEADER + t.nHeadKv,
        pickBytes: t.nHeadKv * 16,
        at,
      };
      at += (2 * entry.cells + entry.stateWords) * 4 + entry.pickBytes;
      return entry;
    });
    this.#bytes = Math.max(4, at);
  }

  /**
   * Submits the copies of every table and pick buffer now; resolves to them
   * once read back.
   */
  capture(): Promise<StepReadBack> {
    const staging = this.#free.pop() ?? this.#create();
    const encoder = this.#device.createCommandEncoder({ label: "inspect.step_readback" });
    this.#tables.forEach((t, l) => {
      const { cells, stateWords, pickBytes, at } = this.#layout[l]!;
      encoder.copyBufferToBuffer(t.pos, 0, staging, at, cells * 4);
      encoder.copyBufferToBuffer(t.score, 0, staging, at + cells * 4, cells * 4);
      encoder.copyBufferToBuffer(t.state, 0, staging, at + cells * 8, stateWords * 4);
      const picks = this.#picks[l];
      const pickAt = at + (2 * cells + stateWords) * 4;
      if (picks) encoder.copyBufferToBuffer(picks, 0, staging, pickAt, pickBytes);
    });
    this.#device.queue.submit([encoder.finish()]);
    return staging.mapAsync(GPUMapMode.READ).then(() => {
      const bytes = staging.getMappedRange().slice(0);
      staging.unmap();
      this.#free.push(staging);
      return this.#parse(bytes);
    });
  }

  /** Frees the staging buffers (after every capture was awaited or abandoned). */
  destroy(): void {
    for (const b of this.#all) b.destroy();
  }

  #create(): GPUBuffer {
    const buffer = this.#device.createBuffer({
      label: "inspect.step_readback",
      size: this.#bytes,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    this.#all.push(buffer);
    return buffer;
  }

  #parse(bytes: ArrayBuffer): StepReadBack {
    const tables = this.#layout.map(({ cells, stateWords, at }) => {
      const words = new Uint32Array(bytes, at + cells * 8, stateWords);
      return {
        pos: new Int32Array(bytes, at, cells).slice(),
        score: new Float32Array(bytes, at + cells * 4, cells).slice(),
        tau: new Float32Array(bytes, at + cells * 8, 1)[0]!,
        count: words[1]!,
        free: words.slice(KV_STATE_HEADER),
      };
    });
    const picks = this.#layout.map(({ cells, stateWords, pickBytes, at }) => {
      const pickAt = at + (2 * cells + stateWords) * 4;
      return new DataView(bytes.slice(pickAt, pickAt + pickBytes));
    });
    return { tables, picks };
  }
}
