/**
 * GPU memory of a session at one moment, with the bytes the full cache would
 * hold for the same tokens, so a compressed cache reads as a share of full.
 *
 * @module
 */

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
    kvFullBytes: m.kvFullBytes,
    layers: m.kvLayers.map((l) => ({ allocatedBytes: l.allocatedBytes, liveBytes: l.liveBytes })),
  };
}
