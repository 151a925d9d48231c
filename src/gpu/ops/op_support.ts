/**
 * Small helpers shared by the host side of every op: buffer size checks with
 * precise messages, the `Params` uniform, labels, workgroup grids folded
 * within the per-dimension limit, bind groups, and dispatches recorded as a
 * list of steps.
 *
 * @module
 */

import type { Dispatch } from "../runtime.ts";

/** Largest workgroup count in one dispatch dimension (WebGPU's default limit). */
export const MAX_GROUPS_PER_DIM = 65535;

/**
 * Checks that `buffer` holds at least `count` 4-byte elements.
 *
 * @param op kernel name for the message, e.g. `"rms_norm"`
 * @param name tensor name for the message, e.g. `"x"`
 * @param buffer the bound buffer
 * @param count elements the kernel touches
 * @param shape human-readable shape of those elements, e.g. `"5×64"`
 * @throws {RangeError} naming the tensor, expected and actual size
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { requireElements } from "./op_support.ts";
 * const x = { size: 32 } as GPUBuffer; // only its size is read: 8 f32 elements
 * requireElements("rms_norm", "x", x, 2 * 4, "2×4");
 * assert.throws(
 *   () => requireElements("rms_norm", "x", x, 3 * 4, "3×4"),
 *   /buffer "x" holds 8 elements, expected 3×4 = 12/,
 * );
 * ```
 */
export function requireElements(
  op: string,
  name: string,
  buffer: GPUBuffer,
  count: number,
  shape: string,
): void {
  if (buffer.size < count * 4) {
    throw new RangeError(
      `Cannot run ${op}: buffer "${name}" holds ${
        Math.floor(buffer.size / 4)
      } elements, expected ${shape} = ${count}`,
    );
  }
}

/**
 * Checks that a dispatch dimension of `count` workgroups (one per row, token
 * or head) is within {@linkcode MAX_GROUPS_PER_DIM}.
 *
 * @param op kernel name for the message
 * @param what what one workgroup covers, plural, e.g. `"tokens"`
 * @param count workgroups along the dimension
 * @throws {RangeError} if `count` is below 1 or above the limit
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { requireGroupCount } from "./op_support.ts";
 * requireGroupCount("rms_norm", "rows", 512);
 * assert.throws(
 *   () => requireGroupCount("rms_norm", "rows", 70000),
 *   /70000 rows, expected 1 to 65535/,
 * );
 * ```
 */
export function requireGroupCount(op: string, what: string, count: number): void {
  if (count < 1 || count > MAX_GROUPS_PER_DIM) {
    throw new RangeError(`Cannot run ${op}: ${count} ${what}, expected 1 to ${MAX_GROUPS_PER_DIM}`);
  }
}

/**
 * Checks the head layout of the attention-shaped kernels: query heads group
 * evenly over the KV heads and the head size is a multiple of 4 (vec4 loads).
 *
 * @param op kernel name for the message
 * @param nHead query heads
 * @param nHeadKv KV heads
 * @param headDim head size
 * @throws {RangeError} naming the heads or the head size
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { requireHeadLayout } from "./op_support.ts";
 * requireHeadLayout("attention_decode", 8, 4, 64); // 2 query heads per KV head
 * assert.throws(() => requireHeadLayout("attention_decode", 8, 3, 64), /do not group over 3/);
 * assert.throws(() => requireHeadLayout("attention_decode", 8, 4, 6), /6 is not a multiple of 4/);
 * ```
 */
export function requireHeadLayout(
  op: string,
  nHead: number,
  nHeadKv: number,
  headDim: number,
): void {
  if (nHeadKv < 1 || nHead % nHeadKv !== 0) {
    throw new RangeError(
      `Cannot run ${op}: ${nHead} query heads do not group over ${nHeadKv} KV heads`,
    );
  }
  if (headDim % 4 !== 0) {
    throw new RangeError(`Cannot run ${op}: head size ${headDim} is not a multiple of 4`);
  }
}

/**
 * Creates a `Params` uniform buffer from 4-byte fields (u32 or f32 each, in
 * WGSL struct order), padded to 16 bytes.
 *
 * @param device owning device
 * @param label GPU label
 * @param fields `["u", value]` for u32 and `["f", value]` for f32 fields
 * @returns the uniform buffer
 */
export function createParams(
  device: GPUDevice,
  label: string,
  fields: ReadonlyArray<readonly ["u" | "f", number]>,
): GPUBuffer {
  const bytes = Math.max(16, Math.ceil(fields.length / 4) * 16);
  const data = new ArrayBuffer(bytes);
  const view = new DataView(data);
  fields.forEach(([kind, value], i) => {
    if (kind === "u") view.setUint32(i * 4, value, true);
    else view.setFloat32(i * 4, value, true);
  });
  const buffer = device.createBuffer({
    label,
    size: bytes,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(buffer, 0, data);
  return buffer;
}

/**
 * A 2-D workgroup grid covering `groups` workgroups within the per-dimension
 * limit; kernels flatten it as `wid.y * num_workgroups.x + wid.x` and skip the
 * excess.
 *
 * @param groups workgroups needed
 * @param maxPerDim the device's `maxComputeWorkgroupsPerDimension`
 * @returns `[x, y]` with x·y ≥ groups and both ≤ maxPerDim
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gridFor } from "./op_support.ts";
 * assert.deepEqual(gridFor(100), [100, 1]);
 * assert.deepEqual(gridFor(70000), [35000, 2]); // over 65535: two rows of 35000
 * assert.deepEqual(gridFor(10, 4), [4, 3]); // 12 ≥ 10 workgroups, 2 skipped
 * ```
 */
export function gridFor(groups: number, maxPerDim = MAX_GROUPS_PER_DIM): [number, number] {
  const y = Math.max(1, Math.ceil(groups / maxPerDim));
  return [Math.max(1, Math.ceil(groups / y)), y];
}

/**
 * The GPU label of an op at a call site: `op`, or `op:suffix`.
 *
 * @param op kernel name
 * @param suffix call-site name, e.g. `"blk.0.attn_norm"`
 * @returns the label
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { opLabel } from "./op_support.ts";
 * assert.equal(opLabel("rms_norm", "blk.0"), "rms_norm:blk.0");
 * assert.equal(opLabel("rms_norm"), "rms_norm");
 * ```
 */
export function opLabel(op: string, suffix?: string): string {
  return suffix ? `${op}:${suffix}` : op;
}

/**
 * Creates a bind group on group 0 of `pipeline` from buffers in binding order;
 * with `used`, only those bindings (an entry point's `auto` layout has no
 * others).
 *
 * @param device owning device
 * @param pipeline pipeline whose layout to use
 * @param label GPU label
 * @param buffers one buffer (or buffer range) per binding 0, 1, ...
 * @param used the binding numbers to bind; all of them when omitted
 * @returns the bind group
 */
export function bindBuffers(
  device: GPUDevice,
  pipeline: GPUComputePipeline,
  label: string,
  buffers: readonly (GPUBuffer | GPUBufferBinding)[],
  used?: readonly number[],
): GPUBindGroup {
  const bindings = used ?? buffers.map((_, binding) => binding);
  const resource = (b: GPUBuffer | GPUBufferBinding) => "buffer" in b ? b : { buffer: b };
  return device.createBindGroup({
    label,
    layout: pipeline.getBindGroupLayout(0),
    entries: bindings.map((binding) => ({ binding, resource: resource(buffers[binding]!) })),
  });
}

/** One dispatch of a recorded op. */
export interface DispatchStep {
  /** The pipeline to run. */
  readonly pipeline: GPUComputePipeline;
  /** Its bind group 0. */
  readonly bindGroup: GPUBindGroup;
  /** Workgroups along x, y and z (y and z default to 1). */
  readonly grid: readonly [number, number?, number?];
}

/**
 * A dispatch that records `steps` in order, setting each pipeline only when
 * it changes, and owns `owned` (the uniforms and scratch buffers its op
 * created): its `destroy()` frees them.
 *
 * @param steps pipelines, bind groups and grids
 * @param owned buffers the op created, freed by `destroy()`
 * @returns the recorded dispatch
 */
export function dispatchSteps(
  steps: readonly DispatchStep[],
  owned: readonly GPUBuffer[] = [],
): Dispatch {
  return {
    destroy() {
      for (const b of owned) b.destroy();
    },
    encode(pass) {
      let current: GPUComputePipeline | undefined;
      for (const { pipeline, bindGroup, grid } of steps) {
        if (pipeline !== current) pass.setPipeline(pipeline);
        current = pipeline;
        pass.setBindGroup(0, bindGroup);
        pass.dispatchWorkgroups(grid[0], grid[1] ?? 1, grid[2] ?? 1);
      }
    },
  };
}
