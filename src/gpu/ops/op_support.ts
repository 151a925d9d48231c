/**
 * Small helpers shared by the host side of the non-weight ops: buffer size
 * checks with precise messages, the `Params` uniform, and grids for
 * element-wise dispatches.
 *
 * @module
 */

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
 * @returns `[x, y]`
 * @example
 * ```ts
 * import { gridFor } from "./op_support.ts";
 * console.log(gridFor(70000)); // [35000, 2]
 * ```
 */
export function gridFor(groups: number): [number, number] {
  const y = Math.max(1, Math.ceil(groups / MAX_GROUPS_PER_DIM));
  return [Math.max(1, Math.ceil(groups / y)), y];
}

/**
 * Creates a bind group on group 0 of `pipeline` from buffers in binding order.
 *
 * @param device owning device
 * @param pipeline pipeline whose layout to use
 * @param label GPU label
 * @param buffers one buffer per binding 0, 1, ...
 * @returns the bind group
 * @example
 * ```ts ignore
 * const bg = bindBuffers(device, pipeline, "rms_norm", [x, w, y, params]);
 * ```
 */
export function bindBuffers(
  device: GPUDevice,
  pipeline: GPUComputePipeline,
  label: string,
  buffers: readonly GPUBuffer[],
): GPUBindGroup {
  return device.createBindGroup({
    label,
    layout: pipeline.getBindGroupLayout(0),
    entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
}
