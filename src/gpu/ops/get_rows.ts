/**
 * Embedding lookup on GGUF blocks as uploaded: row `ids[t]` of the token
 * table, dequantized to f32, for each token of a step; one dispatch per table
 * chunk (each writes the tokens whose ids fall in its rows). Kernel:
 * kernels/get_rows_blocks.wgsl.
 *
 * @module
 */

import body from "../../../kernels/get_rows_blocks.wgsl" with { type: "text" };
import type { GpuRuntime } from "../runtime.ts";
import { STEP_WGSL } from "../step.ts";
import type { GpuWeight } from "../weights.ts";
import { requireElements } from "./op_support.ts";
import { checkBindable } from "./silent_limits.ts";
import {
  checkQuantWeight,
  createChunkDispatch,
  createFixedStep,
  type OwnedDispatch,
  quantConstants,
  quantKernelSource,
  quantLabel,
} from "./quant_kernel.ts";

/** Inputs of {@linkcode createGetRows}. */
export interface GetRowsOptions {
  /** The table, `nVocab rows × nEmbd cols`. */
  readonly table: GpuWeight;
  /** Token ids (u32); token t's id is at element `idsOffset + t`. */
  readonly ids: GPUBuffer;
  /** Element index of token 0's id in `ids` (default 0). */
  readonly idsOffset?: number;
  /** Output, `maxTokens × cols` f32. */
  readonly out: GPUBuffer;
  /** Tokens the output holds; the dispatch covers this many. */
  readonly maxTokens: number;
  /**
   * The shared per-step uniform (`Step` struct); its `n_tokens` says how many
   * tokens this step has. When omitted, every dispatch processes `maxTokens`.
   */
  readonly step?: GPUBuffer;
}

/**
 * Builds the lookup `out[t] = table[ids[idsOffset + t]]`: pipeline, uniforms
 * and one bind group per table chunk, created once. Ids past the table leave
 * their output row untouched.
 *
 * @param rt runtime (device and pipeline cache)
 * @param options table, ids, output and token count
 * @returns the dispatch (one per chunk)
 * @throws {RangeError} if the columns are not a whole number of blocks,
 *   `maxTokens` is out of range, or a buffer is too small
 * @throws {LimitError} if the ids or output buffer exceeds one storage binding
 */
export function createGetRows(rt: GpuRuntime, options: GetRowsOptions): OwnedDispatch {
  const { table, ids, out, maxTokens } = options;
  const idsOffset = options.idsOffset ?? 0;
  const label = quantLabel("get_rows", table.type);
  checkQuantWeight(label, table);
  const maxPerDim = rt.device.limits.maxComputeWorkgroupsPerDimension;
  if (!Number.isInteger(maxTokens) || maxTokens < 1 || maxTokens > maxPerDim) {
    throw new RangeError(
      `Cannot run ${label}: maxTokens is ${maxTokens}, expected an integer in 1..${maxPerDim}`,
    );
  }
  const onTable = `${label} on table "${table.name}"`;
  requireElements(onTable, "ids", ids, idsOffset + maxTokens, `${idsOffset}+${maxTokens}`);
  requireElements(onTable, "out", out, maxTokens * table.cols, `${maxTokens}×${table.cols}`);
  checkBindable(rt.device, label, `token ids for table "${table.name}"`, ids);
  checkBindable(rt.device, label, `output for table "${table.name}"`, out);
  const pipeline = rt.pipelines.get({
    label,
    code: quantKernelSource(table.type, STEP_WGSL + body),
    constants: quantConstants(table),
  });
  const step = options.step ?? createFixedStep(rt.device, maxTokens, `${label}:step:${table.name}`);
  const groupsX = Math.ceil(Math.ceil(table.cols / 8) / 64);
  return createChunkDispatch(rt, {
    label,
    pipeline,
    weight: table,
    buffers: [ids, out, step],
    params: (
      chunk,
    ) => [chunk.rowCount, table.cols, table.rowBytes, chunk.firstRow, idsOffset, maxTokens, 0, 0],
    grid: () => [groupsX, maxTokens],
    owned: options.step ? [] : [step],
  });
}
