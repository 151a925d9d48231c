/**
 * The GPU slot table of one layer's KV cache (the twin is `SlotTable` in
 * src/kv/slot_table.ts plus the τ of `ReferenceKvLayer`): per (KV head, slot)
 * the original position and the accumulated score, and a small state buffer
 * with the layer threshold τ, the occupancy and each head's next free slot.
 * Layout in `kernels/_kv_state.wgsl`.
 *
 * @module
 */

import { createStorageFrom, readBuffer } from "../buffers.ts";
import type { GpuRuntime } from "../runtime.ts";
import { opLabel } from "./op_support.ts";

/** Words before the per-head free slots in the state buffer. */
export const KV_STATE_HEADER = 4;

/** Bits of the f32 NaN that marks an unset τ. */
export const TAU_UNSET_BITS = 0x7fc00000;

/** Sizes of a slot table. */
export interface KvSlotTableOptions {
  /** KV heads. */
  readonly nHeadKv: number;
  /** Slots per KV head. */
  readonly nSlots: number;
  /** GPU label prefix, e.g. `"blk.3"`. */
  readonly label?: string;
}

/** A read-back copy of a slot table (tests and compress-inspect). */
export interface KvSlotTableSnapshot {
  /** Positions `[nHeadKv][nSlots]`, −1 = free. */
  readonly pos: Int32Array;
  /** Accumulated scores `[nHeadKv][nSlots]`. */
  readonly score: Float32Array;
  /** The layer threshold; NaN while unset. */
  readonly tau: number;
  /** Tokens held per KV head (after the last eviction). */
  readonly count: number;
  /** Slot each KV head's next token goes to `[nHeadKv]`. */
  readonly free: Uint32Array;
}

/** One layer's slot table on the GPU. */
export interface KvSlotTable {
  /** Positions (i32) `[nHeadKv][nSlots]`, −1 = free. */
  readonly pos: GPUBuffer;
  /** Accumulated scores (f32) `[nHeadKv][nSlots]`. */
  readonly score: GPUBuffer;
  /** State words: τ bits, count, 2 reserved, then the free slot per head. */
  readonly state: GPUBuffer;
  /** KV heads. */
  readonly nHeadKv: number;
  /** Slots per KV head. */
  readonly nSlots: number;
  /**
   * Empties the table (every slot free, τ unset, count 0, next slot 0):
   * recorded into `target` when it is a command encoder, else queued.
   */
  reset(target: GPUCommandEncoder | GPUQueue): void;
  /** Reads the table back (for tests and inspection; never on the token path). */
  read(): Promise<KvSlotTableSnapshot>;
  /** Destroys the buffers. */
  destroy(): void;
}

/**
 * Creates an empty slot table (already reset).
 *
 * @param rt GPU runtime
 * @param options sizes
 * @returns the table
 * @throws {RangeError} when a size is not a positive integer
 */
export function createKvSlotTable(rt: GpuRuntime, options: KvSlotTableOptions): KvSlotTable {
  const { nHeadKv, nSlots } = options;
  if (
    !Number.isSafeInteger(nHeadKv) || nHeadKv < 1 || !Number.isSafeInteger(nSlots) || nSlots < 1
  ) {
    throw new RangeError(`Cannot create a KV slot table of ${nHeadKv} heads × ${nSlots} slots`);
  }
  const device = rt.device;
  const label = opLabel("kv_table", options.label);
  const cells = nHeadKv * nSlots;
  const stateWords = KV_STATE_HEADER + nHeadKv;
  const emptyPos = new Int32Array(cells).fill(-1);
  const emptyState = new Uint32Array(stateWords);
  emptyState[0] = TAU_UNSET_BITS;
  const pos = createStorageFrom(device, emptyPos, `${label}.pos`);
  const score = createStorageFrom(device, new Float32Array(cells), `${label}.score`);
  const state = createStorageFrom(device, emptyState, `${label}.state`);
  const initPos = createStorageFrom(device, emptyPos, `${label}.init_pos`, GPUBufferUsage.COPY_SRC);
  const initState = createStorageFrom(
    device,
    emptyState,
    `${label}.init_state`,
    GPUBufferUsage.COPY_SRC,
  );
  return {
    pos,
    score,
    state,
    nHeadKv,
    nSlots,
    reset(target) {
      if ("copyBufferToBuffer" in target) {
        target.copyBufferToBuffer(initPos, 0, pos, 0, cells * 4);
        target.clearBuffer(score);
        target.copyBufferToBuffer(initState, 0, state, 0, stateWords * 4);
      } else {
        target.writeBuffer(pos, 0, emptyPos);
        target.writeBuffer(score, 0, new Float32Array(cells));
        target.writeBuffer(state, 0, emptyState);
      }
    },
    async read() {
      const [p, s, st] = await Promise.all([
        readBuffer(device, pos, cells * 4),
        readBuffer(device, score, cells * 4),
        readBuffer(device, state, stateWords * 4),
      ]);
      const words = new Uint32Array(st);
      return {
        pos: new Int32Array(p),
        score: new Float32Array(s),
        tau: new Float32Array(st, 0, 1)[0]!,
        count: words[1]!,
        free: words.slice(KV_STATE_HEADER),
      };
    },
    destroy() {
      for (const b of [pos, score, state, initPos, initState]) b.destroy();
    },
  };
}
