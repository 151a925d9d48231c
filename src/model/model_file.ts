/**
 * Opening a model: a parsed GGUF file, its validated hyper-parameters, and
 * tensor lookup by name.
 *
 * @module
 */

import { InputError } from "../errors.ts";
import { withFiniteTensors } from "../gguf/finite_check.ts";
import { type GgufFile, openGguf } from "../gguf/reader.ts";
import type { GgufTensorInfo } from "../gguf/types.ts";
import { type ModelHParams, readHParams } from "./hparams.ts";
import { TN } from "./tensor_names.ts";

/** A GGUF model d2o can run: every tensor the forward pass reads exists with the right dims. */
export interface ModelFile {
  /** The parsed file (owned: {@linkcode ModelFile.close} closes it); tensor reads are checked finite. */
  readonly gguf: GgufFile;
  /** Validated hyper-parameters. */
  readonly hparams: ModelHParams;
  /** The lm_head matrix: `output.weight`, or `token_embd.weight` when tied. */
  readonly lmHead: GgufTensorInfo;
  /**
   * The descriptor of a tensor.
   *
   * @throws {InputError} if the file has no tensor of that name
   */
  tensor(name: string): GgufTensorInfo;
  /**
   * Reads a tensor's bytes as stored (packed blocks for quantized types).
   *
   * @throws {InputError} if the file has no tensor of that name
   * @throws {GgufFormatError} if the tensor holds a NaN or infinity (exit code 3)
   */
  readTensor(name: string): Promise<Uint8Array>;
  /** Closes the file. */
  close(): void;
}

/**
 * Wraps an already parsed GGUF file as a model, validating its
 * hyper-parameters and tensor shapes. The model takes ownership of `parsed`.
 *
 * @example A one-block llama built in memory, with zero weights
 * ```ts
 * import assert from "node:assert/strict";
 * import { bytesSource } from "../gguf/byte_source.ts";
 * import { GgmlType } from "../gguf/ggml_type.ts";
 * import { parseGguf } from "../gguf/reader.ts";
 * import { GgufValueType } from "../gguf/types.ts";
 * import { encodeGguf } from "../gguf/writer.ts";
 * import { modelFromGguf } from "./model_file.ts";
 * import { expectedTensors } from "./tensor_shapes.ts";
 * const hp = {
 *   nLayer: 1, nEmbd: 8, nHead: 2, nHeadKv: 2, headDim: 4, nFf: 16, nVocab: 10, ropeDim: 4,
 *   tiedEmbeddings: true, hasRopeFreqs: false, hasQkvBias: false,
 * };
 * const tensors = expectedTensors(hp).map(({ name, dims }) => {
 *   const data = new Uint8Array(4 * dims.reduce((a, b) => a * b)); // f32 zeros
 *   return { name, type: GgmlType.F32, dims: [...dims], data };
 * });
 * const u32 = (value: number) => ({ type: GgufValueType.U32, value });
 * const bytes = encodeGguf({
 *   metadata: [
 *     ["general.architecture", { type: GgufValueType.STRING, value: "llama" }],
 *     ["llama.context_length", u32(64)],
 *     ["llama.embedding_length", u32(8)],
 *     ["llama.block_count", u32(1)],
 *     ["llama.feed_forward_length", u32(16)],
 *     ["llama.attention.head_count", u32(2)],
 *     ["llama.attention.layer_norm_rms_epsilon", { type: GgufValueType.F32, value: 1e-5 }],
 *   ],
 *   tensors,
 * });
 * const model = modelFromGguf(await parseGguf(bytesSource(bytes), { name: "tiny.gguf" }));
 * assert.equal(model.hparams.headDim, 4);
 * assert.equal(model.lmHead.name, "token_embd.weight"); // no output.weight: tied
 * assert.deepEqual(await model.readTensor("output_norm.weight"), new Uint8Array(32));
 * assert.throws(() => model.tensor("output.weight"), /Cannot find tensor "output.weight"/);
 * model.close();
 * ```
 *
 * @param parsed a parsed GGUF file
 * @param options `name` for messages (defaults to the file's path)
 * @returns the model
 * @throws {UnsupportedError} for an architecture or layout d2o does not run
 * @throws {InputError} for missing keys or missing or misshapen tensors
 */
export function modelFromGguf(parsed: GgufFile, options: { name?: string } = {}): ModelFile {
  const file = withFiniteTensors(parsed);
  const name = options.name ?? file.path;
  const hparams = readHParams(
    file.metadata,
    file.tensors,
    name === undefined ? {} : { file: name },
  );
  const tensor = (tensorName: string): GgufTensorInfo => {
    const info = file.tensor(tensorName);
    if (!info) {
      const where = name === undefined ? "model" : `"${name}"`;
      throw new InputError(`Cannot find tensor "${tensorName}" in ${where}`);
    }
    return info;
  };
  return {
    gguf: file,
    hparams,
    lmHead: tensor(hparams.tiedEmbeddings ? TN.tokenEmbd : TN.output),
    tensor,
    readTensor: (tensorName) => file.readTensor(tensor(tensorName)),
    close: () => file.close(),
  };
}

/**
 * Opens a GGUF model file and validates it (see {@linkcode modelFromGguf}).
 *
 * @param path the .gguf file
 * @returns the open model (close it when done)
 * @throws {InputError} if the file is missing, malformed, or lacks what the model needs
 * @throws {UnsupportedError} for an architecture or layout d2o does not run
 */
export async function openModel(path: string): Promise<ModelFile> {
  const file = await openGguf(path);
  try {
    return modelFromGguf(file);
  } catch (error) {
    file.close();
    throw error;
  }
}
