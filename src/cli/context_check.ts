/**
 * The `-c/--ctx` checks made before the upload: a context whose KV cache
 * cannot be bound on this GPU is refused in our words (not with a WebGPU
 * validation message mid-run), and one past the model's trained context gets
 * one warning.
 *
 * @module
 */

import { LimitError } from "../errors.ts";
import type { AdapterLimits } from "../gpu/device.ts";
import { HPARAM_LIMITS } from "../model/hparam_bounds.ts";
import type { ModelHParams } from "../model/hparams.ts";

/**
 * Checks a context size against the GPU's binding limit and the trained context.
 *
 * @param hp the model
 * @param nCtx the context in tokens
 * @param limits the adapter's limits (skipped when unknown: the session reports a missing GPU)
 * @returns the warning to print, when the context is past the trained one
 * @throws {LimitError} when one layer's K or V cache of `nCtx` tokens is larger than a binding may be
 */
export function checkContextSize(
  hp: ModelHParams,
  nCtx: number,
  limits: AdapterLimits | undefined,
): string | undefined {
  const perToken = hp.nHeadKv * hp.headDim * 4; // one layer's K (or V), f32
  const binding = limits?.maxStorageBufferBindingSize ?? Infinity;
  const most = Math.min(HPARAM_LIMITS.nCtxTrain, Math.floor(binding / perToken));
  if (nCtx > most) {
    throw new LimitError(
      `Cannot use a context of ${nCtx} tokens: ` +
        (most < HPARAM_LIMITS.nCtxTrain
          ? `one layer's uncompressed K cache would take ${
            mib(nCtx * perToken)
          }, more than this GPU binds ` +
            `(${mib(binding)}), so at most ${most} tokens here`
          : `d2o takes at most ${most}`) +
        `; lower -c/--ctx`,
    );
  }
  if (nCtx > hp.nCtxTrain) {
    return `d2o: warning: a context of ${nCtx} tokens is past the model's trained context of ` +
      `${hp.nCtxTrain}; the text may degrade past it`;
  }
  return undefined;
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(bytes < 2 ** 20 ? 2 : 0)} MiB`;
}
