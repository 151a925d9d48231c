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
 * ```ts ignore
 * requireElements("rms_norm", "x", x, rows * n, `${rows}×${n}`);
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
 * import { requireGroupCount } from "./op_support.ts";
 * requireGroupCount("rms_norm", "rows", 512); // fine
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
 * import { requireHeadLayout } from "./op_support.ts";
 * requireHeadLayout("attention_decode", 8, 4, 64); // fine
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
 * @example
 * ```ts ignore
 * const params = createParams(device, "rms_norm.params", [["u", n], ["f", eps]]);
 * ```
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
 * import { gridFor } from "./op_support.ts";
 * console.log(gridFor(70000)); // [35000, 2]
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
 * import { opLabel } from "./op_support.ts";
 * console.log(opLabel("rms_norm", "blk.0")); // "rms_norm:blk.0"
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
 * @example
 * ```ts ignore
 * const bg = bindBuffers(device, pipeline, "rms_norm", [x, w, y, params]);
 * const pick = bindBuffers(device, pickPipeline, "kv_evict.pick", buffers, [0, 2, 3]);
 * ```
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
 * @example
 * ```ts ignore
 * return dispatchSteps([{ pipeline, bindGroup, grid: [rows] }]);
 * ```
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
