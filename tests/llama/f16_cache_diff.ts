/**
 * d2o's f16 KV cache against llama.cpp's own f16 cache (`-ctk f16 -ctv f16`,
 * llama.cpp's default type; flash attention off), on the five real shapes
 * (fixtures/real_shapes.ts) and stories260K: log-probabilities at every
 * position of a 48-token window of ppl-text.txt, the window's perplexity and
 * 32 greedy tokens. llama.cpp runs its Vulkan build on the same adapter with
 * its f32 arithmetic (VULKAN_F32_ENV), so the two differ only where they
 * compute differently, as in `models_diff.ts` (the same shapes with f32
 * caches); each row also prints what the f16 cache moves on each side (f16
 * against f32, d2o and llama.cpp alike).
 *
 * Tolerances: the f32 comparisons' (1e-3 of the range, perplexity 1e-4
 * relative), since both caches store the same halves of values that agree to
 * about 1e-6; a value within that of a midpoint between two halves is stored
 * as neighbouring halves by the two (2⁻¹¹ relative), which the bounds absorb.
 */
import assert from "node:assert/strict";
import { ensureRealShape, REAL_SHAPES } from "../../fixtures/real_shapes.ts";
import { type KvTypes, kvTypes } from "../../src/gpu/ops/kv_elem.ts";
import { sharedPath } from "../tokenizer/_shared.ts";
import {
  assertPerplexityWithin,
  comparisonSession,
  comparisonText,
  CONTEXT,
  greedyTokens,
  llamaVulkanF32,
  logSoftmaxRows,
  NATIVE,
  WINDOW,
  worstRelative,
} from "./_agreement.ts";
import { type LlamaKvType, llamaLogProbs, type LlamaModelLike } from "./_llama.ts";

/** Greedy steps after the first 16 prompt tokens (llama.cpp's argmax checked at each). */
const GREEDY = 32;

/** A model to compare: its name and a function giving its path. */
const MODELS: [string, () => Promise<string>][] = [
  ["stories260K", () => Promise.resolve(sharedPath("models/stories260K.gguf"))],
  ...REAL_SHAPES.map((shape): [string, () => Promise<string>] => [
    `${shape.mimics} shape`,
    () => ensureRealShape(shape, sharedPath("vocab")),
  ]),
];

/** d2o's log-probability rows over `ids` with a cache of `types`. */
async function d2oRows(path: string, ids: number[], types: KvTypes): Promise<Float64Array[]> {
  const session = await comparisonSession(path, types);
  try {
    return logSoftmaxRows(await session.evaluate(ids), session.hparams.nVocab);
  } finally {
    session.close();
  }
}

/** llama.cpp's log-probability rows over `ids` with a cache of `kvType`. */
function llamaRows(model: LlamaModelLike, ids: number[], nVocab: number, kvType: LlamaKvType) {
  return llamaLogProbs(model, ids, nVocab, CONTEXT, kvType);
}

for (const [name, pathOf] of MODELS) {
  Deno.test({
    name: `${name}: d2o's f16 KV cache matches llama.cpp's f16 cache (logits, perplexity, ` +
      `${GREEDY} greedy tokens)`,
    ...NATIVE,
    async fn(t) {
      const path = await pathOf();
      const session = await comparisonSession(path, kvTypes("f16"));
      const model = await llamaVulkanF32(path);
      try {
        const text = await comparisonText();
        const ids = session.tokenizer.encode(text).slice(0, WINDOW);
        const nVocab = session.hparams.nVocab;
        const ours = logSoftmaxRows(await session.evaluate(ids), nVocab);
        const theirs = await llamaRows(model, ids, nVocab, "F16");

        await t.step(`logits at all ${WINDOW} positions within 1e-3 of the range`, async () => {
          const worst = worstRelative(ours, theirs);
          // For the record: the f32 caches' agreement, and what f16 moves on each side.
          const ours32 = await d2oRows(path, ids, kvTypes("f32"));
          const theirs32 = await llamaRows(model, ids, nVocab, "F32");
          const e = (x: number) => x.toExponential(2);
          console.log(
            `${name}: f16 caches differ by ${e(worst)} of the range (f32 caches ` +
              `${e(worstRelative(ours32, theirs32))}); f16 vs f32: d2o ` +
              `${e(worstRelative(ours, ours32))}, llama.cpp ${e(worstRelative(theirs, theirs32))}`,
          );
          assert.ok(worst <= 1e-3, `worst relative difference ${worst}`);
        });

        await t.step("full-window perplexity within 1e-4 relative", () => {
          assertPerplexityWithin(`${name}: f16 caches`, ours, theirs, ids, 1e-4);
        });

        await t.step(`${GREEDY} greedy tokens identical`, async () => {
          const { got, want } = await greedyTokens(session, model, ids, GREEDY, "F16");
          assert.deepEqual(got, want);
        });
      } finally {
        await model.dispose();
        session.close();
      }
    },
  });
}
