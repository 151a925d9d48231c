/**
 * Reads back, in one copy and one map per step, every layer's slot table
 * (positions, scores, state) and eviction picks: what `compress-inspect`
 * needs after each decode step, without a submit and a map per buffer.
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

/** A reusable staging buffer for the slot tables and picks of every layer. */
export class StepReader {
  readonly #device: GPUDevice;
  readonly #tables: readonly KvSlotTable[];
  readonly #picks: readonly GPUBuffer[];
  readonly #staging: GPUBuffer;
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
    this.#staging = device.createBuffer({
      label: "inspect.step_readback",
      size: Math.max(4, at),
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
  }

  /** Copies every table and pick buffer into the staging buffer and reads it. */
  async read(): Promise<StepReadBack> {
    const encoder = this.#device.createCommandEncoder({ label: "inspect.step_readback" });
    this.#tables.forEach((t, l) => {
      const { cells, stateWords, pickBytes, at } = this.#layout[l]!;
      encoder.copyBufferToBuffer(t.pos, 0, this.#staging, at, cells * 4);
      encoder.copyBufferToBuffer(t.score, 0, this.#staging, at + cells * 4, cells * 4);
      encoder.copyBufferToBuffer(t.state, 0, this.#staging, at + cells * 8, stateWords * 4);
      const picks = this.#picks[l];
      if (picks) {
        encoder.copyBufferToBuffer(
          picks,
          0,
          this.#staging,
          at + (2 * cells + stateWords) * 4,
          pickBytes,
        );
      }
    });
    this.#device.queue.submit([encoder.finish()]);
    await this.#staging.mapAsync(GPUMapMode.READ);
    const bytes = this.#staging.getMappedRange().slice(0);
    this.#staging.unmap();
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
    const picks = this.#layout.map(({ cells, stateWords, pickBytes, at }) =>
      new DataView(
        bytes.slice(
          at + (2 * cells + stateWords) * 4,
          at + (2 * cells + stateWords) * 4 + pickBytes,
        ),
      )
    );
    return { tables, picks };
  }

  /** Frees the staging buffer. */
  destroy(): void {
    this.#staging.destroy();
  }
}
