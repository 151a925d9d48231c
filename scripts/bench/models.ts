/**
 * The models the bench runs: stories260K from `../shared/` when present, and
 * the seeded 124.7M-parameter llama shape of issue #13 (768 wide, 12 layers,
 * 12 query / 4 KV heads, FFN 2048, vocabulary 32,000, untied output) made by
 * the fixture builder in F16, Q8_0, Q4_0 and a Q4_K_M-style mix (Q4_K, with
 * Q6_K for attn_v, ffn_down and output). Generated files are never committed.
 *
 * @module
 */

import { ensureFixture, type FixtureOptions } from "../../fixtures/make_fixtures.ts";
import { GgmlType } from "../../src/gguf/ggml_type.ts";

/** One model the bench runs. */
export interface BenchModel {
  /** Row label, e.g. `124.7M Q8_0`. */
  readonly label: string;
  /** Path of the GGUF file. */
  readonly path: string;
}

/** The weight types of the 124.7M shape, by row label suffix. */
export const LARGE_TYPES: readonly { readonly tag: string; readonly type: GgmlType }[] = [
  { tag: "F16", type: GgmlType.F16 },
  { tag: "Q8_0", type: GgmlType.Q8_0 },
  { tag: "Q4_0", type: GgmlType.Q4_0 },
  { tag: "Q4_K_M", type: GgmlType.Q4_K },
];

/**
 * Fixture options of the 124.7M shape in one weight type (`quick`: a 2-layer,
 * 256-wide stand-in for smoke runs).
 *
 * @param tag a {@linkcode LARGE_TYPES} tag
 * @param quick smaller shape
 */
export function largeModelOptions(tag: string, quick: boolean): FixtureOptions {
  const entry = LARGE_TYPES.find((t) => t.tag === tag);
  if (!entry) throw new RangeError(`No bench model type "${tag}"`);
  const mix = tag === "Q4_K_M";
  return {
    name: `bench-125m-${tag.toLowerCase()}${quick ? "-quick" : ""}`,
    arch: "llama",
    weightType: entry.type,
    nEmbd: quick ? 256 : 768,
    nLayer: quick ? 2 : 12,
    nHead: quick ? 4 : 12,
    nHeadKv: 4,
    nFf: quick ? 512 : 2048,
    nVocab: quick ? 8192 : 32000,
    contextLength: 2048,
    seed: 125,
    ...(mix
      ? {
        typeOverrides: {
          "attn_v.weight": GgmlType.Q6_K,
          "ffn_down.weight": GgmlType.Q6_K,
          "output.weight": GgmlType.Q6_K,
        },
      }
      : {}),
  };
}

/**
 * Builds (or finds current) the 124.7M model in `tag`'s type.
 *
 * @param tag a {@linkcode LARGE_TYPES} tag
 * @param quick smaller shape
 * @returns the model
 */
export async function largeModel(tag: string, quick: boolean): Promise<BenchModel> {
  const options = largeModelOptions(tag, quick);
  const path = await ensureFixture(options);
  const label = `${quick ? "quick " : "124.7M "}${tag}`;
  return { label, path };
}
