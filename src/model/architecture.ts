/**
 * The architecture table: per `general.architecture`, what differs between
 * the model families d2o knows — RoPE pairing, Q/K/V biases, the per-block
 * tensors, whether the output matrix may be tied to the token embedding.
 * Adding a family (phi3, gemma) starts with a row here; the loader and the
 * forward pass read these facts instead of testing architecture names.
 *
 * @module
 */

import type { BlockTensor } from "./tensor_names.ts";

/** RoPE pairing: `norm` rotates adjacent pairs (llama), `neox` the two halves (qwen2). */
export type RopeStyle = "norm" | "neox";

/** What one architecture is made of. */
export interface Architecture {
  /** `general.architecture`. */
  readonly name: string;
  /** Whether d2o runs it (otherwise `info` only describes it). */
  readonly runs: boolean;
  /** RoPE pairing. */
  readonly ropeStyle: RopeStyle;
  /** Whether every block has `attn_q/k/v.bias`. */
  readonly qkvBias: boolean;
  /** Whether `output.weight` may be absent (the lm_head is then `token_embd.weight`). */
  readonly mayTieOutput: boolean;
  /** The per-block tensors, `qkvBias` ones included when the row has them. */
  readonly blockTensors: readonly BlockTensor[];
}

const LLAMA_BLOCK: readonly BlockTensor[] = [
  "attnNorm",
  "attnQ",
  "attnK",
  "attnV",
  "attnOutput",
  "ffnNorm",
  "ffnGate",
  "ffnUp",
  "ffnDown",
];

const llamaLike = (name: string, extra: Partial<Architecture> = {}): Architecture => ({
  name,
  runs: true,
  ropeStyle: "norm",
  qkvBias: false,
  mayTieOutput: true,
  blockTensors: LLAMA_BLOCK,
  ...extra,
});

/** A family d2o does not run: known for its RoPE pairing only (`info`). */
const described = (name: string, ropeStyle: RopeStyle): Architecture => ({
  ...llamaLike(name),
  runs: false,
  ropeStyle,
});

/** Every architecture d2o knows, by `general.architecture`. */
export const ARCHITECTURES: ReadonlyMap<string, Architecture> = new Map(
  [
    llamaLike("llama"),
    // A llama file whose name says Mistral: the same layout.
    llamaLike("mistral"),
    llamaLike("qwen2", {
      ropeStyle: "neox",
      qkvBias: true,
      blockTensors: [
        ...LLAMA_BLOCK.slice(0, 4),
        "attnQBias",
        "attnKBias",
        "attnVBias",
        ...LLAMA_BLOCK.slice(4),
      ],
    }),
    described("qwen2moe", "neox"),
    described("qwen3", "neox"),
    described("phi2", "neox"),
    described("phi3", "neox"),
    described("gemma", "neox"),
    described("gemma2", "neox"),
  ].map((a) => [a.name, a]),
);

/** The architectures d2o runs, for messages: "llama, mistral and qwen2". */
export const RUNNABLE_ARCHITECTURES: string = (() => {
  const names = [...ARCHITECTURES.values()].filter((a) => a.runs).map((a) => a.name);
  return `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`;
})();

/**
 * The RoPE pairing of an architecture (`norm` for one not in the table).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ropeStyleOf } from "./architecture.ts";
 * assert.ok(ropeStyleOf("qwen2") === "neox" && ropeStyleOf("llama") === "norm");
 * ```
 */
export function ropeStyleOf(arch: string): RopeStyle {
  return ARCHITECTURES.get(arch)?.ropeStyle ?? "norm";
}
