/**
 * Weight upload: a GGUF tensor's bytes go to the GPU exactly as stored (no
 * dequantized copy), split into row-range chunks when the tensor is larger
 * than one storage binding, so big vocab embeddings of 1–3B models load.
 *
 * @module
 */

import { LimitError } from "../errors.ts";
import { type GgmlType, ggmlTypeName, rowBytes } from "../gguf/ggml_type.ts";
import type { GgufFile } from "../gguf/reader.ts";
import type { GgufTensorInfo } from "../gguf/types.ts";
import { STORAGE_USAGE } from "./buffers.ts";
import type { GpuRuntime } from "./runtime.ts";

/** One row range of a weight in its own storage buffer. */
export interface WeightChunk {
  /** The rows' bytes as stored in the file, zero-padded to a multiple of 16 (kernels read 16-byte words). */
  readonly buffer: GPUBuffer;
  /** Index of the chunk's first row in the whole tensor. */
  readonly firstRow: number;
  /** Rows in this chunk. */
  readonly rowCount: number;
}

/** A weight matrix on the GPU: `rows` rows of `cols` elements in `type`, in row chunks. */
export interface GpuWeight {
  /** Tensor name, for labels and messages. */
  readonly name: string;
  /** Element type (the GGUF block format). */
  readonly type: GgmlType;
  /** Rows (product of the dims after the first). */
  readonly rows: number;
  /** Elements per row (the innermost dim). */
  readonly cols: number;
  /** Bytes of one row. */
  readonly rowBytes: number;
  /** The chunks, in row order, covering every row once. */
  readonly chunks: readonly WeightChunk[];
  /** Total bytes of tensor data (without padding). */
  readonly byteSize: number;
}

/** What a weight is, when its bytes come from memory rather than a GGUF file. */
export interface WeightShape {
  /** Name for labels and messages. */
  readonly name: string;
  /** Element type. */
  readonly type: GgmlType;
  /** Rows. */
  readonly rows: number;
  /** Elements per row. */
  readonly cols: number;
}

/** Options of {@linkcode createGpuWeight} and {@linkcode uploadWeight}. */
export interface WeightUploadOptions {
  /**
   * Largest chunk buffer in bytes; defaults to the device's storage-binding
   * (and buffer) size limit. Tests lower it to exercise chunking.
   */
  readonly maxChunkBytes?: number;
}

/** Bytes of a chunk buffer holding `bytes` bytes: zero-padded to a multiple of 16, at least 16. */
function paddedSize(bytes: number): number {
  return Math.max(16, Math.ceil(bytes / 16) * 16);
}

/**
 * Rows per chunk for rows of `bytesPerRow` bytes under a chunk limit.
 *
 * @param name tensor name for the message
 * @param bytesPerRow bytes of one row
 * @param maxChunkBytes largest chunk buffer
 * @returns the most whole rows whose bytes, padded to 16, fit the limit
 * @throws {LimitError} if a single row does not fit
 */
export function rowsPerChunk(name: string, bytesPerRow: number, maxChunkBytes: number): number {
  let rows = Math.floor(maxChunkBytes / bytesPerRow);
  while (rows > 0 && paddedSize(rows * bytesPerRow) > maxChunkBytes) rows--;
  if (rows < 1) {
    throw new LimitError(
      `Cannot upload weight "${name}": one row takes ${bytesPerRow} bytes, more than the ` +
        `adapter's storage binding limit of ${maxChunkBytes} bytes`,
    );
  }
  return rows;
}

/**
 * Copies a weight's stored bytes into GPU buffers, one per row chunk.
 *
 * @example Upload a 2×8 f32 matrix
 * ```ts ignore
 * const w = createGpuWeight(rt, new Uint8Array(64), { name: "w", type: GgmlType.F32, rows: 2, cols: 8 });
 * console.log(w.chunks.length); // 1
 * ```
 *
 * @param rt the runtime whose device receives the buffers
 * @param bytes exactly `rows × rowBytes(type, cols)` bytes, as stored in GGUF
 * @param shape name, type, rows and cols
 * @param options chunk limit
 * @returns the uploaded weight
 * @throws {RangeError} if `bytes` has the wrong length or `cols` is not a whole number of blocks
 * @throws {LimitError} if one row exceeds the chunk limit
 */
export function createGpuWeight(
  rt: GpuRuntime,
  bytes: Uint8Array,
  shape: WeightShape,
  options: WeightUploadOptions = {},
): GpuWeight {
  const { name, type, rows, cols } = shape;
  const perRow = rowBytes(type, cols);
  if (bytes.length !== rows * perRow) {
    throw new RangeError(
      `Cannot upload weight "${name}": ${rows}×${cols} ${ggmlTypeName(type)} takes ` +
        `${rows * perRow} bytes, got ${bytes.length}`,
    );
  }
  const limits = rt.device.limits;
  const limit = options.maxChunkBytes ??
    Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const perChunk = rowsPerChunk(name, perRow, limit);
  const chunks: WeightChunk[] = [];
  for (let firstRow = 0; firstRow < rows; firstRow += perChunk) {
    const rowCount = Math.min(perChunk, rows - firstRow);
    const start = firstRow * perRow;
    const size = rowCount * perRow;
    const buffer = rt.device.createBuffer({
      label: chunks.length === 0 && rowCount === rows ? name : `${name}[${firstRow}+${rowCount}]`,
      size: paddedSize(size),
      usage: STORAGE_USAGE,
    });
    const whole = size & ~3;
    if (whole > 0) {
      rt.device.queue.writeBuffer(buffer, 0, bytes as Uint8Array<ArrayBuffer>, start, whole);
    }
    if (whole < size) {
      const tail = new Uint8Array(4);
      tail.set(bytes.subarray(start + whole, start + size));
      rt.device.queue.writeBuffer(buffer, whole, tail);
    }
    chunks.push({ buffer, firstRow, rowCount });
  }
  return { name, type, rows, cols, rowBytes: perRow, chunks, byteSize: rows * perRow };
}

/**
 * Reads one tensor of a GGUF file and uploads it with {@linkcode createGpuWeight}.
 * Peak host memory is one tensor: pass the same `staging` array (sized for the
 * largest tensor) to every call.
 *
 * @example Upload every tensor of a model through one staging array
 * ```ts ignore
 * const staging = new Uint8Array(Math.max(...file.tensors.map((t) => t.byteSize)));
 * const weights = [];
 * for (const info of file.tensors) weights.push(await uploadWeight(rt, file, info, staging));
 * ```
 *
 * @param rt the runtime whose device receives the buffers
 * @param file the open GGUF file
 * @param info a tensor descriptor of `file`; dims[0] is the row length
 * @param staging reused host buffer of at least `info.byteSize` bytes (allocated when omitted)
 * @param options chunk limit
 * @returns the uploaded weight
 * @throws {RangeError} if `staging` is too small
 * @throws {LimitError} if one row exceeds the chunk limit
 */
export async function uploadWeight(
  rt: GpuRuntime,
  file: GgufFile,
  info: GgufTensorInfo,
  staging?: Uint8Array,
  options: WeightUploadOptions = {},
): Promise<GpuWeight> {
  const cols = info.dims[0] ?? 1;
  const rows = cols === 0 ? 0 : info.elementCount / cols;
  const bytes = await file.readTensor(info, staging ?? new Uint8Array(info.byteSize));
  return createGpuWeight(rt, bytes, { name: info.name, type: info.type, rows, cols }, options);
}

/**
 * Destroys every chunk buffer of a weight.
 *
 * @param weight the weight to release
 */
export function destroyGpuWeight(weight: GpuWeight): void {
  for (const chunk of weight.chunks) chunk.buffer.destroy();
}
