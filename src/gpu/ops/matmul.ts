/**
 * Prompt mat-mul on GGUF blocks as uploaded: `Y[t] (+)= W·X[t]` for the
 * tokens of one prefill step, one dispatch per weight chunk. Kernel:
 * kernels/matmul_tiled.wgsl, register-blocked: 64 rows × 32 or 64 tokens per
 * workgroup, or 128 × 128; on a CPU driver kernels/matmul_broadcast.wgsl
 * (32 rows × 128 tokens per 8-thread workgroup, see {@linkcode MATMUL_TILES}).
 *
 * @module
 */

import common from "../../../kernels/_matmul_common.wgsl" with { type: "text" };
import broadcastBody from "../../../kernels/matmul_broadcast.wgsl" with { type: "text" };
import tiledBody from "../../../kernels/matmul_tiled.wgsl" with { type: "text" };
import type { GpuRuntime } from "../runtime.ts";
import { STEP_WGSL } from "../step.ts";
import type { GpuWeight, WeightChunk } from "../weights.ts";
import { gridFor, requireElements } from "./op_support.ts";
import { checkBindable, checkLoopBudget } from "./silent_limits.ts";
import {
  activationInput,
  checkQuantWeight,
  createChunkDispatch,
  createFixedStep,
  type OwnedDispatch,
  quantConstants,
  quantKernelSource,
  quantLabel,
  specializeSource,
} from "./quant_kernel.ts";

/**
 * A workgroup tile: `8·rowBlocks` weight rows (`rowBlocks` for the broadcast
 * kernel) × `32·tokenBlocks` tokens (RB, HB in the kernels).
 */
export interface MatmulTile {
  /** Rows per thread (RB): rows ty + 8i (matmul_tiled) or all rows i (broadcast), i < rowBlocks. */
  readonly rowBlocks: number;
  /** Token quads per thread (HB): a thread owns tokens tx + 32h + 8j, h < tokenBlocks, j < 4. */
  readonly tokenBlocks: number;
  /** Whether the tile runs matmul_broadcast.wgsl (8 threads; cols % 8 = 0). */
  readonly broadcast: boolean;
}

/**
 * The tiles: `narrow` 64 rows × 32 tokens (8×4 outputs per thread), `wide`
 * 64 × 64 (8×8), `large` 128 × 128 (16×16), `broadcast` 32 × 128 in 8
 * threads (32×16). On a CPU driver every workgroup-memory load at a
 * non-constant offset is a per-lane loop that costs far more than the
 * multiply-adds it feeds, and a spilled accumulator far less, so the bigger
 * the block the faster (large about 1.4-2.5× wide on lavapipe, broadcast
 * about 1.3-1.8× large, measured under load); they compile longer (broadcast
 * about 1.5 s) and leave a GPU too few workgroups, so only a fallback
 * adapter takes them.
 */
export const MATMUL_TILES = {
  narrow: { rowBlocks: 8, tokenBlocks: 1, broadcast: false },
  wide: { rowBlocks: 8, tokenBlocks: 2, broadcast: false },
  large: { rowBlocks: 16, tokenBlocks: 4, broadcast: false },
  broadcast: { rowBlocks: 32, tokenBlocks: 4, broadcast: true },
} as const satisfies Record<string, MatmulTile>;

/** Name of a {@linkcode MATMUL_TILES} entry. */
export type MatmulTileName = keyof typeof MATMUL_TILES;

/**
 * Weight elements from which a mat-mul takes the wide token tile: it runs
 * 1.4× faster on a CPU driver but compiles about three times as long, which
 * only pays where the multiply-adds outweigh the compile (not stories260K's
 * 64-wide matrices, whose pipelines delay the first token).
 */
export const MATMUL_WIDE_ELEMENTS = 1 << 18;

/**
 * The tile {@linkcode createMatmul} takes by default: narrow below
 * {@linkcode MATMUL_WIDE_ELEMENTS}; else, on a fallback adapter when a step
 * holds more tokens than the wide tile, broadcast (rows of a multiple of 8)
 * or large; else wide.
 *
 * @param rows the weight's rows
 * @param cols the weight's columns
 * @param maxTokens tokens per step
 * @param isFallback whether the adapter is a CPU driver
 * @returns the tile's name
 */
export function defaultMatmulTile(
  rows: number,
  cols: number,
  maxTokens: number,
  isFallback: boolean,
): MatmulTileName {
  if (rows * cols < MATMUL_WIDE_ELEMENTS) return "narrow";
  if (!isFallback || maxTokens <= 32 * MATMUL_TILES.wide.tokenBlocks) return "wide";
  return cols % 8 === 0 ? "broadcast" : "large";
}

/** Inputs of {@linkcode createMatmul}. */
export interface MatmulOptions {
  /** The weight, `rows × cols`. */
  readonly weight: GpuWeight;
  /** Input X, `maxTokens × cols` f32, row-major. */
  readonly x: GPUBuffer;
  /** Output Y, `maxTokens × rows` f32, row-major. */
  readonly y: GPUBuffer;
  /** Token rows X and Y hold; the dispatch covers this many. */
  readonly maxTokens: number;
  /**
   * The shared per-step uniform (`Step` struct); its `n_tokens` says how many
   * tokens this step has. When omitted, every dispatch processes `maxTokens`.
   */
  readonly step?: GPUBuffer;
  /** Add into Y instead of overwriting it (fuses the residual add). */
  readonly accumulate?: boolean;
  /** The workgroup tile (default: {@linkcode defaultMatmulTile}); tests force each. */
  readonly tile?: MatmulTileName;
}

/**
 * Builds the mat-mul `Y = X·Wᵀ` (or `Y += X·Wᵀ`): pipeline, uniforms and one
 * bind group per weight chunk, created once.
 *
 * @param rt runtime (device and pipeline cache)
 * @param options weight, activations, token count and flags
 * @returns the dispatch (one per chunk)
 * @throws {RangeError} if the columns are not a whole number of blocks, `maxTokens` is not a positive integer, or a buffer is too small
 * @throws {LimitError} if X or Y exceeds one storage binding (too many tokens for a wide weight), or a row needs more loop iterations than lavapipe runs
 */
export function createMatmul(rt: GpuRuntime, options: MatmulOptions): OwnedDispatch {
  const { weight, x, y, maxTokens } = options;
  const label = quantLabel("matmul", weight.type);
  checkQuantWeight(label, weight);
  if (!Number.isInteger(maxTokens) || maxTokens < 1) {
    throw new RangeError(
      `Cannot run ${label}: maxTokens is ${maxTokens}, expected a positive integer`,
    );
  }
  const onWeight = `${label} on weight "${weight.name}"`;
  requireElements(onWeight, "x", x, maxTokens * weight.cols, `${maxTokens}×${weight.cols}`);
  requireElements(onWeight, "y", y, maxTokens * weight.rows, `${maxTokens}×${weight.rows}`);
  const tileName = options.tile ??
    defaultMatmulTile(weight.rows, weight.cols, maxTokens, rt.ctx.isFallback);
  const tile: MatmulTile = MATMUL_TILES[tileName];
  if (tile.broadcast && weight.cols % 8 !== 0) {
    throw new RangeError(
      `Cannot run ${label} with the broadcast tile on weight "${weight.name}": ${weight.cols} columns, expected a multiple of 8`,
    );
  }
  const tileRows = (tile.broadcast ? 1 : 8) * tile.rowBlocks;
  const tileTokens = 32 * tile.tokenBlocks;
  checkLoopBudget(label, `rows of ${weight.cols} columns`, matmulLoopBound(weight.cols, tile));
  checkBindable(rt.device, label, `input "x" for weight "${weight.name}"`, x);
  checkBindable(rt.device, label, `output "y" for weight "${weight.name}"`, y);
  const input = activationInput(weight.cols);
  const pipeline = rt.pipelines.get({
    label: `${label}${input.suffix}:${tileName}`,
    code: quantKernelSource(
      weight.type,
      input.code + STEP_WGSL + common +
        repeatLines(
          specializeSource(tile.broadcast ? broadcastBody : tiledBody, {
            PARTIAL8: weight.cols % 8 !== 0,
            PARTIAL4: weight.cols % 4 !== 0,
          }),
          tile,
        ),
    ),
    constants: quantConstants(weight),
  });
  const step = options.step ??
    createFixedStep(rt.device, maxTokens, `${label}:step:${weight.name}`);
  const maxPerDim = rt.device.limits.maxComputeWorkgroupsPerDimension;
  const tokenTiles = Math.ceil(maxTokens / tileTokens);
  const rowTiles = (chunk: WeightChunk) => Math.ceil(chunk.rowCount / tileRows);
  return createChunkDispatch(rt, {
    label,
    pipeline,
    weight,
    buffers: [x, y, step],
    params: (chunk) => [
      chunk.rowCount,
      weight.cols,
      weight.rowBytes,
      chunk.firstRow,
      weight.rows,
      maxTokens,
      rowTiles(chunk),
      options.accumulate ? 1 : 0,
    ],
    grid: (chunk) => gridFor(rowTiles(chunk) * tokenTiles, maxPerDim),
    owned: options.step ? [] : [step],
  });
}

/** Columns matmul_tiled advances per K step (KC in the kernel). */
const MATMUL_K_STEP = 32;

/**
 * Worst-case loop iterations of one invocation (the bounds in the kernel
 * headers), then RB·HB stores of 4 tokens. matmul_tiled: per K step 1 +
 * TR/16 (W tile) + TT/8 (X tile) + 8 (multiply); matmul_broadcast: per 8
 * columns 1 + TR/8 (W tile).
 */
function matmulLoopBound(cols: number, tile: MatmulTile): number {
  const stores = 4 * tile.rowBlocks * tile.tokenBlocks;
  if (tile.broadcast) return (1 + tile.rowBlocks / 8) * Math.ceil(cols / 8) + stores;
  const tr = 8 * tile.rowBlocks;
  const tt = 32 * tile.tokenBlocks;
  return (9 + tr / 16 + tt / 8) * Math.ceil(cols / MATMUL_K_STEP) + stores;
}

/** A kernel line ending in `// @each i`, `// @each h` or `// @each i h`. */
const EACH_LINE = /^(.*?)\s*\/\/ @each (i h|i|h)$/gm;

/**
 * Writes out the register block: each line marked `// @each i` (`h`, `i h`)
 * once per row block i < RB (token block h < HB, every pair), with `{i}`,
 * `{i+1}` and `{h}` replaced, and `{RB}`, `{HB}` by the tile's counts. The blocks
 * are written out rather than looped over arrays because lavapipe keeps a
 * dynamically indexed array in memory (about 2× slower, measured).
 *
 * @param code kernel text with the markers
 * @param tile the register block
 * @returns the kernel text without markers
 */
export function repeatLines(code: string, tile: MatmulTile): string {
  const is = Array.from({ length: tile.rowBlocks }, (_, i) => i);
  const hs = Array.from({ length: tile.tokenBlocks }, (_, h) => h);
  return code
    .replace(EACH_LINE, (_, line: string, over: string) => {
      const pairs: [number, number][] = over === "h"
        ? hs.map((h) => [0, h])
        : is.flatMap((i): [number, number][] => (over === "i" ? [[i, 0]] : hs.map((h) => [i, h])));
      return pairs.map(([i, h]) =>
        line.replaceAll("{i}", `${i}`).replaceAll("{i+1}", `${i + 1}`).replaceAll("{h}", `${h}`)
      ).join("\n");
    })
    .replaceAll("{RB}", `${tile.rowBlocks}`)
    .replaceAll("{HB}", `${tile.tokenBlocks}`);
}
