/**
 * GPU timing behind one interface: timestamp queries around compute passes
 * when the device has `timestamp-query`, else the wall clock from the first
 * timed pass to `queue.onSubmittedWorkDone()`.
 *
 * @module
 */

import type { GpuRuntime } from "./runtime.ts";

/** Label of the span from the first timed pass's start to the last one's end. */
export const TOTAL_LABEL = "total";

/** Times the compute passes of one or more submissions. */
export interface GpuTimer {
  /** Whether per-pass GPU timestamps are used (else only the wall-clock total). */
  readonly usesTimestamps: boolean;
  /**
   * The descriptor for the next timed compute pass.
   *
   * @param label name the duration is reported under (repeated labels add up)
   * @throws {RangeError} if more passes are timed than the timer was made for
   */
  passDescriptor(label: string): GPUComputePassDescriptor;
  /** Records the copy of this frame's timestamps; call once, after the last timed pass. */
  resolve(encoder: GPUCommandEncoder): void;
  /**
   * Waits for the submitted work and returns milliseconds per label, plus
   * {@linkcode TOTAL_LABEL}; then starts a new frame. Without timestamps only
   * the total is reported.
   */
  read(): Promise<Map<string, number>>;
  /** Releases the query set and buffers. */
  destroy(): void;
}

/**
 * Creates a timer for up to `maxPasses` timed passes per frame.
 *
 * @param rt runtime whose device runs the passes
 * @param maxPasses timed passes per frame (≥ 1)
 * @returns the timer
 */
export function createTimer(rt: GpuRuntime, maxPasses: number): GpuTimer {
  if (!Number.isInteger(maxPasses) || maxPasses < 1) {
    throw new RangeError(
      `Cannot create a GPU timer for ${maxPasses} passes: expected a positive integer`,
    );
  }
  return rt.ctx.hasTimestamps
    ? timestampTimer(rt.device, maxPasses)
    : wallClockTimer(rt.device, maxPasses);
}

function tooMany(maxPasses: number, label: string): RangeError {
  return new RangeError(
    `Cannot time pass "${label}": the timer holds ${maxPasses} passes per frame`,
  );
}

function timestampTimer(device: GPUDevice, maxPasses: number): GpuTimer {
  const count = 2 * maxPasses;
  const querySet = device.createQuerySet({ label: "timer", type: "timestamp", count });
  const resolveBuffer = device.createBuffer({
    label: "timer:resolve",
    size: 8 * count,
    usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
  });
  const readBuffer = device.createBuffer({
    label: "timer:read",
    size: 8 * count,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  let labels: string[] = [];
  return {
    usesTimestamps: true,
    passDescriptor(label) {
      if (labels.length >= maxPasses) throw tooMany(maxPasses, label);
      const index = labels.length;
      labels.push(label);
      return {
        label,
        timestampWrites: {
          querySet,
          beginningOfPassWriteIndex: 2 * index,
          endOfPassWriteIndex: 2 * index + 1,
        },
      };
    },
    resolve(encoder) {
      const used = 2 * labels.length;
      if (used === 0) return;
      encoder.resolveQuerySet(querySet, 0, used, resolveBuffer, 0);
      encoder.copyBufferToBuffer(resolveBuffer, 0, readBuffer, 0, 8 * used);
    },
    async read() {
      const frame = labels;
      labels = [];
      const result = new Map<string, number>();
      if (frame.length === 0) return result;
      await readBuffer.mapAsync(GPUMapMode.READ, 0, 16 * frame.length);
      const stamps = new BigUint64Array(readBuffer.getMappedRange(0, 16 * frame.length).slice(0));
      readBuffer.unmap();
      let first = stamps[0]!;
      let last = stamps[1]!;
      frame.forEach((label, i) => {
        const begin = stamps[2 * i]!;
        const end = stamps[2 * i + 1]!;
        if (begin < first) first = begin;
        if (end > last) last = end;
        const ms = end > begin ? Number(end - begin) / 1e6 : 0;
        result.set(label, (result.get(label) ?? 0) + ms);
      });
      result.set(TOTAL_LABEL, last > first ? Number(last - first) / 1e6 : 0);
      return result;
    },
    destroy() {
      querySet.destroy();
      resolveBuffer.destroy();
      readBuffer.destroy();
    },
  };
}

function wallClockTimer(device: GPUDevice, maxPasses: number): GpuTimer {
  let passes = 0;
  let start: number | undefined;
  return {
    usesTimestamps: false,
    passDescriptor(label) {
      if (passes >= maxPasses) throw tooMany(maxPasses, label);
      passes++;
      start ??= performance.now();
      return { label };
    },
    resolve() {},
    async read() {
      await device.queue.onSubmittedWorkDone();
      const result = new Map<string, number>();
      if (start !== undefined) result.set(TOTAL_LABEL, performance.now() - start);
      passes = 0;
      start = undefined;
      return result;
    },
    destroy() {},
  };
}
