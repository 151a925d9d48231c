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
import { createRuntime, type GpuRuntime } from "../../src/gpu/runtime.ts";
import { Session } from "../../src/model/session.ts";
import { testGpu } from "../_gpu.ts";
import { sharedPath } from "../tokenizer/_shared.ts";
import { getLlama, llamaArgmaxAfter, llamaLogProbs, VULKAN_F32_ENV } from "./_llama.ts";
import { logSoftmaxRows, perplexityOf, worstRelative } from "./_agreement.ts";

/** Prompt tokens compared position by position (the perplexity window). */
const WINDOW = 48;
/** Greedy steps after the first 16 prompt tokens (llama.cpp's argmax checked at each). */
const GREEDY = 32;
const CONTEXT = 128;

const NATIVE = { sanitizeOps: false, sanitizeResources: false } as const;
let runtime: GpuRuntime | undefined;

for (const shape of REAL_SHAPES) {
  Deno.test({
    name: `${shape.mimics} shape: logits, greedy tokens and perplexity match llama.cpp`,
    ...NATIVE,
    async fn(t) {
      const path = await ensureRealShape(shape, sharedPath("vocab"));
      runtime ??= createRuntime(await testGpu());
      const session = await Session.open(path, {
        nCtx: CONTEXT,
        allLogits: true,
        maxBatch: WINDOW,
        sampler: { temperature: 0 },
        runtime,
        kvTypes: kvTypes("f32"),
      });
      for (const [name, value] of Object.entries(VULKAN_F32_ENV)) Deno.env.set(name, value);
      const llama = await getLlama("vulkan");
      const model = await llama.loadModel({ modelPath: path, gpuLayers: "max" });
      try {
        const text = await Deno.readTextFile(sharedPath("oracle/ppl-text.txt"));
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
          const a = perplexityOf(oursRows, ids);
          const b = perplexityOf(theirRows, ids);
          console.log(`${shape.name}: perplexity d2o ${a} llama.cpp ${b}`);
          assert.ok(Math.abs(a - b) / b <= 1e-4, `d2o ${a}, llama.cpp ${b}`);
        });

        await t.step(`${GREEDY} greedy tokens identical`, async () => {
          session.reset();
          const prompt = ids.slice(0, 16);
          const got: number[] = [];
          for await (const token of session.generate(prompt, GREEDY)) got.push(token);
          // llama.cpp's argmax after the prompt and after each of our tokens.
          const sequence = [...prompt, ...got.slice(0, -1)];
          const want = await llamaArgmaxAfter(model, sequence, prompt.length, CONTEXT, "F32");
          assert.deepEqual(got, want);
        });
      } finally {
        await model.dispose();
        session.close();
      }
    },
  });
}
