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
 * @example Wrapping a file parsed from memory
 * ```ts ignore
 * const model = modelFromGguf(await parseGguf(bytesSource(bytes), { name: "tiny.gguf" }));
 * console.log(model.hparams.nLayer);
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
 * @example Reading a model's shape
 * ```ts ignore
 * const model = await openModel("stories260K.gguf");
 * console.log(model.hparams.nEmbd, model.hparams.nLayer); // 64 5
 * model.close();
 * ```
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
