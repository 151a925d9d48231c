/**
 * Shared pieces of the weight-kernel differential tests (matvec, matmul,
 * get_rows): seeded random weights packed by `quantize()` so the GPU and the
 * CPU twin read identical bytes, the per-type column sizes, the error bound
 * relative to the output scale, and tensors of the shared test models.
 *
 * @module
 */

import assert from "node:assert/strict";
import { GgmlType, ggmlTypeName } from "../../src/gguf/ggml_type.ts";
import { openGguf } from "../../src/gguf/reader.ts";
import { quantize } from "../../src/gguf/quantize.ts";
import { compare, randomValues } from "./_cases.ts";

export { WEIGHT_TYPES } from "../../fixtures/make_fixtures.ts";

/** The float types, whose rows may have any length. */
export const FLOAT_TYPES: readonly GgmlType[] = [GgmlType.F32, GgmlType.F16, GgmlType.BF16];

/**
 * Row lengths that are not multiples of 8 (or of 4, or even of 2) plus one
 * long odd one: 172 is stories260K's feed-forward length; odd lengths put
 * every other F16/BF16 row at a 2-byte offset.
 */
export const ANY_COLUMNS: readonly number[] = [1, 3, 172, 173, 4095];

/** The chunk limit that fits exactly `rows` rows of `bytesPerRow` bytes (chunks are padded to 16). */
export function chunkLimit(rows: number, bytesPerRow: number): number {
  return Math.ceil((rows * bytesPerRow) / 16) * 16;
}

/** Whether a type uses 256-element super-blocks. */
export function isKQuant(type: GgmlType): boolean {
  return type === GgmlType.Q4_K || type === GgmlType.Q5_K || type === GgmlType.Q6_K;
}

/**
 * Column counts to test for a type, smallest legal first: 32, 96, 256, 768,
 * 2048 for block-32 and float types (float types also 8), 256, 768, 2048 for K-quants.
 */
export function columnGrid(type: GgmlType): number[] {
  if (isKQuant(type)) return [256, 768, 2048];
  const base = [32, 96, 256, 768, 2048];
  return type === GgmlType.F32 || type === GgmlType.F16 || type === GgmlType.BF16
    ? [8, ...base]
    : base;
}

/** Lower-case type name as used in kernel labels, e.g. `q4_k`. */
export function typeTag(type: GgmlType): string {
  return ggmlTypeName(type).toLowerCase();
}

/** Seeded random `rows × cols` weight packed in `type`. */
export function randomWeight(type: GgmlType, rows: number, cols: number, seed: number): Uint8Array {
  return quantize(type, randomValues(seed, rows * cols));
}

/**
 * Asserts NMSE ≤ `maxNmse` and max-abs error ≤ `maxAbsPerScale`·(largest
 * |want| + `floor`).
 */
export function assertCloseToTwin(
  got: Float32Array,
  want: Float32Array,
  label: string,
  maxNmse: number,
  maxAbsPerScale: number,
  floor = 1,
): void {
  const { nmse, maxAbs, scale } = compare(got, want);
  assert.ok(nmse <= maxNmse, `${label}: NMSE ${nmse} > ${maxNmse}`);
  assert.ok(
    maxAbs <= maxAbsPerScale * (scale + floor),
    `${label}: max-abs error ${maxAbs} > ${maxAbsPerScale}·(${scale}+${floor})`,
  );
}

/** A weight tensor read from one of the shared test models. */
export interface ModelTensor {
  /** Its bytes as stored in the file. */
  bytes: Uint8Array;
  /** Element type. */
  type: GgmlType;
  /** Rows (product of the outer dims). */
  rows: number;
  /** Elements per row. */
  cols: number;
}

/** Reads tensor `name` of the test model `file` (in ../shared/models). */
export async function readModelTensor(file: string, name: string): Promise<ModelTensor> {
  const url = new URL(`../../../shared/models/${file}`, import.meta.url);
  const gguf = await openGguf(url.pathname);
  try {
    const info = gguf.tensor(name);
    if (info === undefined) throw new Error(`Test model ${file} has no tensor "${name}"`);
    const cols = info.dims[0]!;
    const bytes = await gguf.readTensor(info);
    return { bytes, type: info.type, rows: info.elementCount / cols, cols };
  } finally {
    gguf.close();
  }
}
