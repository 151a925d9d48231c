/**
 * What the bench says about the machine it ran on: CPU model and cores, and
 * how much CPU other processes took while it measured (from `node:os` and
 * `node:process` CPU times; needs `--allow-sys`), so each figure can be read
 * against the load it met.
 *
 * @module
 */

import { cpus, loadavg, totalmem } from "node:os";
import process from "node:process";

/** CPU counters at one instant, in milliseconds. */
export interface CpuSample {
  /** Busy time of all CPUs (user + nice + system + irq). */
  readonly busy: number;
  /** All time of all CPUs. */
  readonly total: number;
  /** This process's user + system time. */
  readonly self: number;
}

/** The counters now, or undefined where the system does not say. */
export function cpuSample(): CpuSample | undefined {
  try {
    let busy = 0;
    let total = 0;
    for (const { times } of cpus()) {
      busy += times.user + times.nice + times.sys + times.irq;
      total += times.user + times.nice + times.sys + times.irq + times.idle;
    }
    const own = process.cpuUsage();
    return { busy, total, self: (own.user + own.system) / 1000 };
  } catch {
    return undefined;
  }
}

/**
 * Share of all CPU time between two samples that other processes took
 * (0..1), or undefined without samples.
 *
 * @param from earlier sample
 * @param to later sample
 * @param excludeSelf also count this process's time as "own" (default true)
 */
export function otherLoad(
  from: CpuSample | undefined,
  to: CpuSample | undefined,
  excludeSelf = true,
): number | undefined {
  if (!from || !to || to.total === from.total) return undefined;
  const own = excludeSelf ? to.self - from.self : 0;
  return Math.max(0, (to.busy - from.busy - own) / (to.total - from.total));
}

/** One line naming the CPU, its cores and memory, and the 1-minute load average. */
export function machineLine(): string {
  const list = cpus();
  return `${list[0]?.model ?? Deno.build.arch}, ${list.length} cores, ${
    Math.round(totalmem() / 2 ** 30)
  } GiB; load average ${loadavg()[0]?.toFixed(2)} at start`;
}

/** A load share as a percentage, e.g. ` 12%`, or `  ?`. */
export function loadPercent(share: number | undefined): string {
  return share === undefined ? "  ?" : `${Math.round(100 * share)}%`.padStart(4);
}

/**
 * The median the bench reports: the middle of the sorted figures, for an even
 * count the upper of the middle two (so it is always a measured figure).
 *
 * @param xs figures, at least one
 */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
