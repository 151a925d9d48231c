/**
 * The five real shapes (fixtures/real_shapes.ts) against llama.cpp: logits at
 * every prompt position, 32 greedy tokens and the full-window perplexity.
 * llama.cpp runs its Vulkan build on the same adapter in f32 (VULKAN_F32_ENV);
 * both sides keep an f32 KV cache, pinned (d2o's default is f16 where the
 * adapter has shader-f16; `f16_cache_diff.ts` compares the f16 caches).
 */
import assert from "node:assert/strict";
import { ensureRealShape, REAL_SHAPES } from "../../fixtures/real_shapes.ts";
import { kvTypes } from "../../src/gpu/ops/kv_elem.ts";
import { sharedPath } from "../tokenizer/_shared.ts";
import { llamaLogProbs } from "./_llama.ts";
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

/** Greedy steps after the first 16 prompt tokens (llama.cpp's argmax checked at each). */
const GREEDY = 32;

for (const shape of REAL_SHAPES) {
  Deno.test({
    name: `${shape.mimics} shape: logits, greedy tokens and perplexity match llama.cpp`,
    ...NATIVE,
    async fn(t) {
      const path = await ensureRealShape(shape, sharedPath("vocab"));
      const session = await comparisonSession(path, kvTypes("f32"));
      const model = await llamaVulkanF32(path);
      try {
        const text = await comparisonText();
        const ours = session.tokenizer.encode(text);
        const theirs = model.tokenize(text);
        const bos = session.tokenizer.addBos ? 1 : 0;
        assert.deepEqual(ours.slice(bos, 200), theirs.slice(0, 200 - bos), "tokenization");
        const ids = ours.slice(0, WINDOW);
        const nVocab = session.hparams.nVocab;

        const oursRows = logSoftmaxRows(await session.evaluate(ids), nVocab);
        const theirRows = await llamaLogProbs(model, ids, nVocab, CONTEXT, "F32");

        await t.step(`logits at all ${WINDOW} positions within 1e-3 of the range`, () => {
          const worst = worstRelative(oursRows, theirRows);
          console.log(
            `${shape.name}: worst logit difference ${worst.toExponential(2)} of the range`,
          );
          assert.ok(worst <= 1e-3, `worst relative difference ${worst}`);
        });

        await t.step(`full-window perplexity within 1e-4 relative`, () => {
          assertPerplexityWithin(shape.name, oursRows, theirRows, ids, 1e-4);
        });

        await t.step(`${GREEDY} greedy tokens identical`, async () => {
          const { got, want } = await greedyTokens(session, model, ids, GREEDY, "F32");
          assert.deepEqual(got, want);
        });
      } finally {
        await model.dispose();
        session.close();
      }
    },
  });
}
