/**
 * The fate of every token of the sequence in one layer and KV head of an
 * {@linkcode InspectReport}: the per-token view both renderers draw.
 *
 * @module
 */

import type { InspectEviction, InspectMerge, InspectReport, TokenFate } from "./types.ts";

/** A token's fate, or `unseen` when the head never cached it (e.g. the last generated token). */
export type CellFate = TokenFate | "unseen";

/** One token in one layer and KV head. */
export interface TokenCell {
  /** Position in the sequence (prompt then generated tokens). */
  readonly pos: number;
  /** The token's display piece. */
  readonly piece: string;
  /** Whether the token was generated (after the prompt). */
  readonly generated: boolean;
  /** What became of it. */
  readonly fate: CellFate;
  /** The merge, when `fate` is `merged`. */
  readonly merge: InspectMerge | null;
  /** The eviction, when `fate` is `evicted`. */
  readonly eviction: InspectEviction | null;
}

/**
 * Lists every token of the sequence with its fate in one layer and KV head.
 *
 * @param report the inspect report
 * @param layer index into `report.layers`
 * @param head index into that layer's `heads`
 * @returns one cell per token, in sequence order
 * @throws {RangeError} when the layer or head does not exist, a position is
 * outside the sequence, or a position has two fates
 */
export function tokenFates(report: InspectReport, layer: number, head: number): TokenCell[] {
  const entry = report.layers[layer];
  if (entry === undefined) {
    throw new RangeError(
      `Cannot show layer ${layer}: the report has ${report.layers.length} layers`,
    );
  }
  const h = entry.heads[head];
  if (h === undefined) {
    throw new RangeError(
      `Cannot show KV head ${head} of layer ${layer}: the layer has ${entry.heads.length} heads`,
    );
  }
  const n = report.tokens.pieces.length;
  const fates = new Map<number, Omit<TokenCell, "pos" | "piece" | "generated">>();
  const record = (
    pos: number,
    fate: TokenFate,
    detail: Omit<TokenCell, "pos" | "piece" | "generated">,
  ) => {
    if (!Number.isSafeInteger(pos) || pos < 0 || pos >= n) {
      throw new RangeError(
        `Cannot show layer ${layer} head ${head}: ${fate} position ${pos} is outside the ${n} tokens`,
      );
    }
    const before = fates.get(pos);
    if (before !== undefined) {
      throw new RangeError(
        `Cannot show layer ${layer} head ${head}: position ${pos} is both ${before.fate} and ${fate}`,
      );
    }
    fates.set(pos, detail);
  };
  for (const pos of h.kept) record(pos, "kept", { fate: "kept", merge: null, eviction: null });
  for (const m of h.merged) record(m.pos, "merged", { fate: "merged", merge: m, eviction: null });
  for (const e of h.evicted) {
    record(e.pos, "evicted", { fate: "evicted", merge: null, eviction: e });
  }
  return report.tokens.pieces.map((piece, pos) => ({
    pos,
    piece,
    generated: pos >= report.promptLength,
    ...(fates.get(pos) ?? { fate: "unseen", merge: null, eviction: null }),
  }));
}

/**
 * Makes a token piece safe to print: control characters (C0 including
 * newline and tab, DEL, C1) become visible escapes such as `\n` or `\x1b`,
 * so no piece can move the cursor or inject terminal colours.
 *
 * @param piece the raw piece
 * @returns the piece with every control character escaped
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { visiblePiece } from "./token_fates.ts";
 * assert.equal(visiblePiece("a\nb\x1b[31m"), String.raw`a\nb\x1b[31m`);
 * ```
 */
export function visiblePiece(piece: string): string {
  // deno-lint-ignore no-control-regex
  return piece.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => {
    if (c === "\n") return "\\n";
    if (c === "\t") return "\\t";
    if (c === "\r") return "\\r";
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
  });
}
