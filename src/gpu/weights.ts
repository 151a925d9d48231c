/**
 * Weight upload: a GGUF tensor's bytes go to the GPU exactly as stored (no
 * dequantized copy), split into row-range chunks when the tensor is larger
 * than one storage binding, so big vocab embeddings of 1–3B models load.
 *
 * A file's tensors stream through bounded host memory ({@linkcode UploadStaging}):
 * one reusable read buffer of a few MiB, and a cap on the bytes handed to
 * `queue.writeBuffer` before the upload waits for the queue. `writeBuffer`
 * copies its data into a driver-side staging buffer that lives until a
 * submission carrying it completes; an upload that never waits holds a second
 * copy of the whole model there (on a CPU adapter, where the GPU buffers are
 * host memory too, the 2.8× peak of `docs/results/2026-12-06-upload-memory.md`).
 *
 * @module
 */

import { LimitError } from "../errors.ts";
import { type GgmlType, ggmlTypeInfo, ggmlTypeName, rowBytes } from "../gguf/ggml_type.ts";
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

/** Bytes of one read from the file into {@linkcode UploadStaging.piece}. */
export const UPLOAD_PIECE_BYTES = 2 << 20;

/** Bytes {@linkcode UploadStaging} lets the queue's staging hold before it waits for the queue. */
export const UPLOAD_QUEUED_BYTES = 8 << 20;

/**
 * The host memory of an upload, bounded: one reusable read buffer
 * ({@linkcode piece}) and at most `queuedBytes` (plus one write) copied into
 * the queue's staging and not yet consumed by the GPU.
 */
export class UploadStaging {
  /** The reusable read buffer: each piece of a tensor is read into it, then queued. */
  readonly piece: Uint8Array;
  readonly #device: GPUDevice;
  readonly #queuedLimit: number;
  #queued = 0;

  /**
   * @param rt the runtime whose queue receives the writes
   * @param pieceBytes size of {@linkcode piece}
   * @param queuedBytes bytes queued before {@linkcode write} waits for the queue
   */
  constructor(rt: GpuRuntime, pieceBytes = UPLOAD_PIECE_BYTES, queuedBytes = UPLOAD_QUEUED_BYTES) {
    this.piece = new Uint8Array(pieceBytes);
    this.#device = rt.device;
    this.#queuedLimit = queuedBytes;
  }

  /**
   * Queues `bytes` for `buffer` at `offset` (a multiple of 4; a length that is
   * not is zero-padded to one), then waits for the queue once the bytes queued
   * since the last wait pass the cap. `bytes` may be reused on return.
   */
  async write(buffer: GPUBuffer, offset: number, bytes: Uint8Array): Promise<void> {
    const whole = bytes.length & ~3;
    const queue = this.#device.queue;
    if (whole > 0) queue.writeBuffer(buffer, offset, bytes as Uint8Array<ArrayBuffer>, 0, whole);
    if (whole < bytes.length) {
      const tail = new Uint8Array(4);
      tail.set(bytes.subarray(whole));
      queue.writeBuffer(buffer, offset + whole, tail);
    }
    await this.queued(bytes.length);
  }

  /** Counts `bytes` queued by other means (a whole in-memory weight); waits past the cap. */
  async queued(bytes: number): Promise<void> {
    this.#queued += bytes;
    if (this.#queued >= this.#queuedLimit) await this.drain();
  }

  /** Submits what is queued and waits until the GPU has consumed it (its staging is freed). */
  async drain(): Promise<void> {
    this.#device.queue.submit([]);
    await this.#device.queue.onSubmittedWorkDone();
    this.#queued = 0;
  }
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
 * Copies a weight's stored bytes into GPU buffers, one per row chunk. The
 * queue's staging holds a copy of `bytes` until the next submission completes.
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
  const expected = rows * rowBytes(type, cols);
  if (bytes.length !== expected) {
    throw new RangeError(
      `Cannot upload weight "${name}": ${rows}×${cols} ${ggmlTypeName(type)} takes ` +
        `${expected} bytes, got ${bytes.length}`,
    );
  }
  const weight = allocateGpuWeight(rt, shape, options);
  for (const chunk of weight.chunks) {
    const start = chunk.firstRow * weight.rowBytes;
    const size = chunk.rowCount * weight.rowBytes;
    const whole = size & ~3;
    if (whole > 0) {
      rt.device.queue.writeBuffer(chunk.buffer, 0, bytes as Uint8Array<ArrayBuffer>, start, whole);
    }
    if (whole < size) {
      const tail = new Uint8Array(4);
      tail.set(bytes.subarray(start + whole, start + size));
      rt.device.queue.writeBuffer(chunk.buffer, whole, tail);
    }
  }
  return weight;
}

/** A weight's chunk buffers, created empty (zero-filled by WebGPU). */
function allocateGpuWeight(
  rt: GpuRuntime,
  shape: WeightShape,
  options: WeightUploadOptions,
): GpuWeight {
  const { name, type, rows, cols } = shape;
  const perRow = rowBytes(type, cols);
  const limits = rt.device.limits;
  const limit = options.maxChunkBytes ??
    Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const perChunk = rowsPerChunk(name, perRow, limit);
  const chunks: WeightChunk[] = [];
  for (let firstRow = 0; firstRow < rows; firstRow += perChunk) {
    const rowCount = Math.min(perChunk, rows - firstRow);
    const buffer = rt.device.createBuffer({
      label: chunks.length === 0 && rowCount === rows ? name : `${name}[${firstRow}+${rowCount}]`,
      size: paddedSize(rowCount * perRow),
      usage: STORAGE_USAGE,
    });
    chunks.push({ buffer, firstRow, rowCount });
  }
  return { name, type, rows, cols, rowBytes: perRow, chunks, byteSize: rows * perRow };
}

/**
 * Uploads one tensor of a GGUF file, streamed from the file to its chunk
 * buffers in pieces of at most `staging.piece.length` bytes: the host never
 * holds the tensor whole. Every piece is read with the file's checks
 * (truncation, and NaN/infinity through `withFiniteTensors`); on a failure the
 * tensor's buffers are destroyed and the error is thrown.
 *
 * @param rt the runtime whose device receives the buffers
 * @param file the open GGUF file
 * @param info a tensor descriptor of `file`; dims[0] is the row length
 * @param staging the bounded host memory to stream through (one is made and drained when omitted)
 * @param options chunk limit
 * @returns the uploaded weight
 * @throws {RangeError} if `staging.piece` cannot hold four of the tensor's blocks
 * @throws {LimitError} if one row exceeds the chunk limit
 * @throws {GgufFormatError} if the file is cut short or the tensor holds a NaN or infinity
 */
export async function uploadWeight(
  rt: GpuRuntime,
  file: GgufFile,
  info: GgufTensorInfo,
  staging?: UploadStaging,
  options: WeightUploadOptions = {},
): Promise<GpuWeight> {
  const cols = info.dims[0] ?? 1;
  const rows = cols === 0 ? 0 : info.elementCount / cols;
  const own = staging ?? new UploadStaging(rt);
  // A piece is whole blocks (the finite check reads block scales) and whole 4-byte words
  // (writeBuffer's unit), except a chunk's last.
  const unit = 4 * ggmlTypeInfo(info.type).blockBytes;
  const pieceBytes = Math.floor(own.piece.length / unit) * unit;
  if (pieceBytes === 0) {
    throw new RangeError(
      `Cannot upload weight "${info.name}" through a ${own.piece.length}-byte staging piece: ` +
        `it needs at least ${unit} bytes`,
    );
  }
  const weight = allocateGpuWeight(rt, { name: info.name, type: info.type, rows, cols }, options);
  try {
    for (const chunk of weight.chunks) {
      const start = chunk.firstRow * weight.rowBytes;
      const size = chunk.rowCount * weight.rowBytes;
      for (let done = 0; done < size; done += pieceBytes) {
        const into = own.piece.subarray(0, Math.min(pieceBytes, size - done));
        await own.write(chunk.buffer, done, await file.readTensorPart(info, start + done, into));
      }
    }
    if (!staging) await own.drain();
  } catch (error) {
    destroyGpuWeight(weight);
    throw error;
  }
  return weight;
}

/**
 * Destroys every chunk buffer of a weight.
 *
 * @param weight the weight to release
 */
export function destroyGpuWeight(weight: GpuWeight): void {
  for (const chunk of weight.chunks) chunk.buffer.destroy();
}
