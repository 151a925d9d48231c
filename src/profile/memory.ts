/**
 * GPU memory of a session at one moment, with the bytes the full cache would
 * hold for the same tokens, so a compressed cache reads as a share of full.
 *
 * @module
 */

import type { ModelHParams } from "../model/hparams.ts";
import type { LayerKvMemory, Session } from "../model/session.ts";

/** Memory figures in bytes. */
export interface MemoryFigures {
  /** Model weights. */
  readonly weightBytes: number;
  /** Activations, logits and uniforms. */
  readonly scratchBytes: number;
  /** K and V slots allocated. */
  readonly kvAllocatedBytes: number;
  /** K and V slots holding a token. */
  readonly kvLiveBytes: number;
  /** What the full cache would hold for every token fed so far. */
  readonly kvFullBytes: number;
  /** Per layer: allocated and live K/V bytes. */
  readonly layers: readonly LayerKvMemory[];
}

/**
 * K and V bytes one token takes in the full cache over all layers (f32, as
 * the session stores them).
 *
 * @param hp the model's hyper-parameters
 * @returns bytes per token
 * @example stories260K: 5 layers × 2 × 4 KV heads × 8 × 4 bytes
 * ```ts ignore
 * kvBytesPerToken(hp); // 1280
 * ```
 */
export function kvBytesPerToken(hp: ModelHParams): number {
  return hp.nLayer * 2 * hp.nHeadKv * hp.headDim * 4;
}

/**
 * The session's memory now; `kvFullBytes` counts every position fed.
 *
 * @param session an open session
 * @returns the figures
 */
export function memorySnapshot(session: Session): MemoryFigures {
  const m = session.memory;
  return {
    weightBytes: m.weightBytes,
    scratchBytes: m.scratchBytes,
    kvAllocatedBytes: m.kvBytes,
    kvLiveBytes: m.kvLiveBytes,
    kvFullBytes: session.position * kvBytesPerToken(session.hparams),
    layers: m.kvLayers.map((l) => ({ allocatedBytes: l.allocatedBytes, liveBytes: l.liveBytes })),
  };
}
