/**
 * Checks of a model's size hyper-parameters against the file's tensor table
 * and against sane bounds, made before anything sized by them is built or
 * allocated: a corrupt `block_count` of 2³¹ must fail at once, not after the
 * expected-tensor list has eaten the memory.
 *
 * @module
 */

import { InputError, UnsupportedError } from "../errors.ts";
import type { GgufTensorInfo } from "../gguf/types.ts";

/** The largest value d2o accepts for each size hyper-parameter (far above any released model). */
export const HPARAM_LIMITS = {
  /** Transformer blocks. */
  nLayer: 1024,
  /** Hidden size. */
  nEmbd: 1 << 17,
  /** Query or KV heads. */
  nHead: 1024,
  /** Size of one attention head. */
  headDim: 1024,
  /** Feed-forward size. */
  nFf: 1 << 20,
  /** Vocabulary size. */
  nVocab: 1 << 22,
  /** Trained context length in tokens. */
  nCtxTrain: 1 << 24,
} as const;

/** The size hyper-parameters as read from the metadata. */
export interface SizeHParams {
  readonly nLayer: number;
  readonly nEmbd: number;
  readonly nHead: number;
  readonly nHeadKv: number;
  readonly headDim: number;
  readonly nFf: number;
  readonly nVocab: number;
  readonly nCtxTrain: number;
}

/** Metadata key per size hyper-parameter, for messages. */
export type SizeKeys = Readonly<Record<keyof SizeHParams, string>>;

/**
 * Checks the size hyper-parameters: within {@linkcode HPARAM_LIMITS}, at
 * least one block, as many blocks as the tensor table has, and the embedding
 * table's dims equal to the hidden and vocabulary sizes.
 *
 * @param hp the values read from the metadata
 * @param keys the metadata key of each, for messages
 * @param tensors the file's tensors by name
 * @param where message prefix naming the file
 * @throws {InputError} for a value out of bounds or one the tensor table contradicts
 */
export function checkSizeHParams(
  hp: SizeHParams,
  keys: SizeKeys,
  tensors: ReadonlyMap<string, GgufTensorInfo>,
  where: string,
): void {
  const limits: Record<keyof SizeHParams, number> = {
    ...HPARAM_LIMITS,
    nHeadKv: HPARAM_LIMITS.nHead,
  };
  for (const name of Object.keys(limits) as (keyof SizeHParams)[]) {
    if (hp[name] > limits[name]) {
      throw new InputError(
        `${where}: metadata key "${keys[name]}" is ${hp[name]}, more than d2o accepts ` +
          `(${limits[name]}): the file is corrupt`,
      );
    }
  }
  if (hp.nLayer === 0) {
    throw new InputError(
      `${where}: metadata key "${keys.nLayer}" is 0: a model needs at least one block`,
    );
  }
  const blocks = blockCount(tensors);
  if (blocks !== hp.nLayer) {
    throw new InputError(
      `${where}: metadata key "${keys.nLayer}" is ${hp.nLayer}, but the tensor table has ` +
        `${blocks} block${blocks === 1 ? "" : "s"}`,
    );
  }
}

/**
 * Refuses mixture-of-experts metadata (d2o runs dense models only).
 *
 * @param experts the `expert_count` value, if any
 * @param key its metadata key
 * @param where message prefix naming the file
 * @throws {UnsupportedError} when the model has experts
 */
export function checkNoExperts(experts: number | undefined, key: string, where: string): void {
  if (experts !== undefined && experts !== 0) {
    throw new UnsupportedError(
      `${where}: metadata key "${key}" is ${experts}: d2o does not run mixture-of-experts models`,
    );
  }
}

/** One more than the highest block index named in the tensor table (`blk.N.…`). */
function blockCount(tensors: ReadonlyMap<string, GgufTensorInfo>): number {
  let count = 0;
  for (const name of tensors.keys()) {
    const m = /^blk\.(\d+)\./.exec(name);
    if (m) count = Math.max(count, Number(m[1]) + 1);
  }
  return count;
}
