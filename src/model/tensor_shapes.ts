/**
 * The tensors a model's forward pass reads, with the dims its
 * hyper-parameters imply, and the check that a file's tensors match them.
 *
 * @module
 */

import { InputError } from "../errors.ts";
import type { GgufTensorInfo } from "../gguf/types.ts";
import { type BlockTensor, blockTensorName, TN } from "./tensor_names.ts";

/**
 * The hyper-parameters the tensor shapes follow from (a part of
 * `ModelHParams`, declared here so that `hparams.ts`, which checks the
 * shapes, and this file do not import each other).
 */
export interface ShapeHParams {
  /** Layers. */
  readonly nLayer: number;
  /** Embedding width. */
  readonly nEmbd: number;
  /** Query heads. */
  readonly nHead: number;
  /** KV heads. */
  readonly nHeadKv: number;
  /** Values per head. */
  readonly headDim: number;
  /** Feed-forward width. */
  readonly nFf: number;
  /** Vocabulary size. */
  readonly nVocab: number;
  /** Rotated dimensions per head. */
  readonly ropeDim: number;
  /** Whether the output projection is the token embedding. */
  readonly tiedEmbeddings: boolean;
  /** Whether the file has `rope_freqs.weight`. */
  readonly hasRopeFreqs: boolean;
  /** Whether Q, K and V have biases. */
  readonly hasQkvBias: boolean;
}

/** One tensor the forward pass reads. */
export interface ExpectedTensor {
  /** Full tensor name. */
  readonly name: string;
  /** Dims, innermost first (ggml's `ne`). */
  readonly dims: readonly number[];
}

/**
 * Lists every tensor the forward pass reads, with its expected dims (optional
 * tensors only when the hyper-parameters say they are present).
 *
 * @example The tensors of an untied model with no blocks, then with two
 * ```ts
 * import assert from "node:assert/strict";
 * import { expectedTensors } from "./tensor_shapes.ts";
 * const hp = {
 *   nLayer: 0, nEmbd: 8, nHead: 2, nHeadKv: 2, headDim: 4, nFf: 16, nVocab: 10, ropeDim: 4,
 *   tiedEmbeddings: false, hasRopeFreqs: false, hasQkvBias: false,
 * };
 * assert.deepEqual(expectedTensors(hp), [
 *   { name: "token_embd.weight", dims: [8, 10] },
 *   { name: "output_norm.weight", dims: [8] },
 *   { name: "output.weight", dims: [8, 10] },
 * ]);
 * assert.equal(expectedTensors({ ...hp, nLayer: 2 }).length, 3 + 2 * 9); // 9 tensors per block
 * ```
 *
 * @param hp hyper-parameters
 * @returns names and dims, global tensors first, then block by block
 */
export function expectedTensors(hp: ShapeHParams): ExpectedTensor[] {
  const q = hp.nHead * hp.headDim;
  const kv = hp.nHeadKv * hp.headDim;
  const list: ExpectedTensor[] = [
    { name: TN.tokenEmbd, dims: [hp.nEmbd, hp.nVocab] },
    { name: TN.outputNorm, dims: [hp.nEmbd] },
  ];
  if (!hp.tiedEmbeddings) list.push({ name: TN.output, dims: [hp.nEmbd, hp.nVocab] });
  if (hp.hasRopeFreqs) list.push({ name: TN.ropeFreqs, dims: [hp.ropeDim / 2] });
  for (let layer = 0; layer < hp.nLayer; layer++) {
    const add = (kind: BlockTensor, dims: number[]) =>
      list.push({ name: blockTensorName(layer, kind), dims });
    add("attnNorm", [hp.nEmbd]);
    add("attnQ", [hp.nEmbd, q]);
    add("attnK", [hp.nEmbd, kv]);
    add("attnV", [hp.nEmbd, kv]);
    if (hp.hasQkvBias) {
      add("attnQBias", [q]);
      add("attnKBias", [kv]);
      add("attnVBias", [kv]);
    }
    add("attnOutput", [q, hp.nEmbd]);
    add("ffnNorm", [hp.nEmbd]);
    add("ffnGate", [hp.nEmbd, hp.nFf]);
    add("ffnUp", [hp.nEmbd, hp.nFf]);
    add("ffnDown", [hp.nFf, hp.nEmbd]);
  }
  return list;
}

/**
 * Checks that every tensor of {@linkcode expectedTensors} exists with the
 * expected dims (trailing dims of 1 are ignored, as ggml does).
 *
 * @param hp hyper-parameters
 * @param tensors the file's tensors by name
 * @param where message prefix naming the file, e.g. `Cannot load "m.gguf"`
 * @throws {InputError} naming the first missing tensor, or the tensor with its expected and actual dims
 */
export function checkTensorShapes(
  hp: ShapeHParams,
  tensors: ReadonlyMap<string, GgufTensorInfo>,
  where: string,
): void {
  for (const { name, dims } of expectedTensors(hp)) {
    const tensor = tensors.get(name);
    if (!tensor) throw new InputError(`${where}: tensor "${name}" is missing`);
    const actual = trimOnes(tensor.dims);
    if (actual.length !== dims.length || actual.some((d, i) => d !== dims[i])) {
      throw new InputError(
        `${where}: tensor "${name}" has dims [${tensor.dims.join(", ")}], expected [${
          dims.join(", ")
        }]`,
      );
    }
  }
}

function trimOnes(dims: readonly number[]): readonly number[] {
  let n = dims.length;
  while (n > 1 && dims[n - 1] === 1) n--;
  return dims.slice(0, n);
}
