/**
 * How a long prompt chunk is cut into submissions when its caller wants
 * control back inside it (a stop request, progress): a few layers at a time,
 * as many as keep one submission near {@linkcode PROMPT_SUBMISSION_MS} by the
 * time the submissions so far took. On a CPU adapter (lavapipe) the
 * JavaScript thread is held inside each `queue.submit` for the whole of the
 * work, so a chunk of a large model in one submission holds a stop request
 * for seconds; on a GPU a chunk is short and stays whole.
 *
 * @module
 */

/** The time one prompt submission aims at, in milliseconds. */
export const PROMPT_SUBMISSION_MS = 250;

/** Layers per submission, from the measured cost of one layer's row. */
export class PromptPacer {
  readonly #nLayer: number;
  readonly #targetMs: number;
  /** Milliseconds per layer and row, smoothed over the submissions so far. */
  #msPerLayerRow: number | undefined;

  /**
   * @param nLayer the model's layers
   * @param targetMs the time one submission aims at
   */
  constructor(nLayer: number, targetMs = PROMPT_SUBMISSION_MS) {
    this.#nLayer = nLayer;
    this.#targetMs = targetMs;
  }

  /**
   * Layers the next submission of a chunk of `rows` rows records: one before
   * anything is measured, then as many as fit the target (at least one, at
   * most every layer).
   *
   * @param rows the chunk's rows
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { PromptPacer } from "./prompt_pacer.ts";
   * const pacer = new PromptPacer(24, 250);
   * assert.equal(pacer.layers(128), 1);
   * pacer.record(100, 128, 1); // 100 ms for one layer of 128 rows
   * assert.equal(pacer.layers(128), 2);
   * assert.equal(pacer.layers(8), 24);
   * ```
   */
  layers(rows: number): number {
    const per = this.#msPerLayerRow;
    if (per === undefined) return 1;
    const fit = Math.floor(this.#targetMs / (per * rows));
    return Math.max(1, Math.min(this.#nLayer, fit));
  }

  /**
   * Takes the time one submission took.
   *
   * @param ms its wall time, from the submit to the end of its work
   * @param rows its chunk's rows
   * @param layers the layers it recorded
   */
  record(ms: number, rows: number, layers: number): void {
    const per = ms / (rows * layers);
    const last = this.#msPerLayerRow;
    // Smoothed, but a slower submission counts at once: the target is a bound.
    this.#msPerLayerRow = last === undefined || per > last ? per : (last + per) / 2;
  }
}
