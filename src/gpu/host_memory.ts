/**
 * The process's host memory: on a CPU adapter (lavapipe) the GPU's buffers
 * live in host memory, so the peak resident set is what a model really costs
 * the machine, weights and KV cache included.
 *
 * @module
 */

import process from "node:process";

const STATUS = "/proc/self/status";

/**
 * The peak resident set size of this process in bytes, the first of:
 * - Linux's `VmHWM` from `/proc/self/status`, which Deno lets a program read
 *   only with `--allow-all`;
 * - `getrusage`'s `ru_maxrss` (Node's `process.resourceUsage().maxRSS`): the
 *   same figure on Linux, except that a process started by a larger one
 *   inherits that one's peak at the start (a shell's is small);
 * - the current resident set (`Deno.memoryUsage().rss`), a lower bound.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { peakRssBytes } from "./host_memory.ts";
 * const rss = Deno.memoryUsage().rss;
 * assert.ok(peakRssBytes() >= rss); // the peak is never below an earlier reading
 * ```
 *
 * @returns bytes
 */
export function peakRssBytes(): number {
  return Math.max(Deno.memoryUsage().rss, statusPeak() ?? rusagePeak() ?? 0);
}

/** `VmHWM` in bytes, when this process may read its status without a prompt. */
function statusPeak(): number | undefined {
  if (Deno.build.os !== "linux") return undefined;
  if (Deno.permissions.querySync({ name: "read", path: STATUS }).state !== "granted") {
    return undefined;
  }
  try {
    const kb = /^VmHWM:\s+(\d+) kB$/m.exec(Deno.readTextFileSync(STATUS))?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    // Read access without --allow-all (NotCapable), or no /proc: the next source.
    return undefined;
  }
}

/** `ru_maxrss` in bytes (Node reports kilobytes), where the platform has it. */
function rusagePeak(): number | undefined {
  try {
    const kb = process.resourceUsage().maxRSS;
    return kb > 0 ? kb * 1024 : undefined;
  } catch {
    // No getrusage here.
    return undefined;
  }
}
