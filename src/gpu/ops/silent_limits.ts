/**
 * Shape checks for the two limits a dispatch can pass without any error while
 * producing wrong results: Mesa's lavapipe stops every invocation after
 * 65,535 loop iterations in total (all loops of the invocation share one
 * counter), and a buffer larger than the storage-binding limit makes its bind
 * group invalid, which WebGPU reports only as an uncaptured error event.
 * Each op's host computes its kernel's worst-case loop count from the bound
 * written in the kernel header and checks it here.
 *
 * @module
 */

import { LimitError } from "../../errors.ts";

/** Loop iterations lavapipe runs in one invocation before it silently stops every loop. */
export const LOOP_ITERATION_LIMIT = 65535;

/**
 * Checks a kernel's worst-case loop iterations per invocation against
 * {@linkcode LOOP_ITERATION_LIMIT}.
 *
 * @example Check the loop count of a row norm
 * ```ts
 * import assert from "node:assert/strict";
 * import { LimitError } from "../../errors.ts";
 * import { checkLoopBudget } from "./silent_limits.ts";
 * checkLoopBudget("rms_norm", "a row of 8192", 72);
 * checkLoopBudget("rms_norm", "a longer row", 65535); // the limit itself still runs
 * assert.throws(() => checkLoopBudget("rms_norm", "a longer row", 65536), LimitError);
 * ```
 *
 * @param op kernel label for messages, e.g. `matvec_f16`
 * @param what the shape that sets the count, e.g. `rows of 600000 columns`
 * @param iterations worst-case loop iterations of one invocation
 * @throws {LimitError} if `iterations` exceeds the limit
 */
export function checkLoopBudget(op: string, what: string, iterations: number): void {
  if (iterations > LOOP_ITERATION_LIMIT) {
    throw new LimitError(
      `Cannot run ${op}: ${what} take ${iterations} loop iterations in one invocation, more than ` +
        `the ${LOOP_ITERATION_LIMIT} a CPU driver (Mesa lavapipe) runs before silently stopping`,
    );
  }
}

/**
 * Checks that `buffer` fits one storage binding of `device`.
 *
 * @param device the device whose limit applies
 * @param op kernel label for messages
 * @param what the buffer's role, e.g. `output "y" for weight "output.weight"`
 * @param buffer the buffer the op binds whole
 * @throws {LimitError} if the buffer is larger than `maxStorageBufferBindingSize`
 */
export function checkBindable(
  device: GPUDevice,
  op: string,
  what: string,
  buffer: GPUBuffer,
): void {
  const limit = device.limits.maxStorageBufferBindingSize;
  if (buffer.size > limit) {
    throw new LimitError(
      `Cannot run ${op}: ${what} holds ${buffer.size} bytes, more than the adapter's ` +
        `storage binding limit of ${limit} bytes`,
    );
  }
}
