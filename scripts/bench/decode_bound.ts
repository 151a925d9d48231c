/**
 * The decode speed the mat-vec alone allows for one model: every matrix a
 * decode step reads, timed as one mat-vec per shape and type and summed over
 * the model — the "mat-vec bandwidth for the same total bytes" the decode
 * speed is measured against.
 *
 * @module
 */

import { openGguf } from "../../src/gguf/reader.ts";
import type { GgmlType } from "../../src/gguf/ggml_type.ts";
import type { GpuRuntime } from "../../src/gpu/runtime.ts";
import { timeWeightKernel } from "./kernels.ts";

/** Result of {@linkcode decodeBound}. */
export interface DecodeBound {
  /** Tokens per second if a step were only its mat-vecs. */
  readonly tokensPerSecond: number;
  /** Weight bytes of those mat-vecs per second, GB/s. */
  readonly gbPerSecond: number;
}

/**
 * Times the mat-vecs of one decode step of the model at `path` (each distinct
 * type × shape once, weighted by how often the step runs it).
 *
 * @param rt runtime
 * @param path GGUF file
 */
export async function decodeBound(rt: GpuRuntime, path: string): Promise<DecodeBound> {
  const file = await openGguf(path);
  const tensors = file.tensors;
  file.close();
  const tied = !tensors.some((t) => t.name === "output.weight");
  const shapes = new Map<string, { type: GgmlType; rows: number; cols: number; count: number }>();
  for (const t of tensors) {
    if (t.dims.length !== 2 || (t.name === "token_embd.weight" && !tied)) continue;
    const [cols, rows] = t.dims as [number, number];
    const key = `${t.type}:${rows}:${cols}`;
    const entry = shapes.get(key) ?? { type: t.type, rows, cols, count: 0 };
    entry.count++;
    shapes.set(key, entry);
  }
  let ms = 0;
  let bytes = 0;
  for (const { type, rows, cols, count } of shapes.values()) {
    const f = await timeWeightKernel(rt, type, rows, cols, 1, 20);
    ms += count * f.ms;
    bytes += count * f.gbPerSecond * f.ms * 1e6;
  }
  return { tokensPerSecond: 1000 / ms, gbPerSecond: bytes / (ms * 1e6) };
}
