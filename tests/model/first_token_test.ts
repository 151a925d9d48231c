/**
 * The first token's path (issue 13): `generate` with `firstTokenEarly` yields
 * the prompt's token before the KV cache plans and compresses, so fewer
 * pipelines exist at that point, and the run's tokens are the ones of the
 * default order; a caller that stops at the first token still leaves the cache
 * compressed. A prompt-chunk graph sized for a short prompt is rebuilt for a
 * longer chunk, with the same logits as a graph built at max_batch.
 */

import assert from "node:assert/strict";
import { createRuntime } from "../../src/gpu/runtime.ts";
import { resolveKvOptions } from "../../src/kv/options.ts";
import { Session } from "../../src/model/session.ts";
import { gpuTestOptions, testGpu } from "../_gpu.ts";

const STORIES = new URL("../../../shared/models/stories260K.gguf", import.meta.url).pathname;
const TEXT = await Deno.readTextFile(
  new URL("../../../shared/oracle/ppl-text.txt", import.meta.url),
);

/** A d2o session on its own pipeline cache (so its pipeline count is its own). */
async function d2oSession(): Promise<Session> {
  const runtime = createRuntime(await testGpu());
  return await Session.open(STORIES, { nCtx: 512, kv: resolveKvOptions({ kv: "d2o" }), runtime });
}

/** Runs `generate`; at the first token records the pipeline count and whether the cache is planned. */
async function run(prompt: number[], n: number, firstTokenEarly: boolean) {
  const session = await d2oSession();
  try {
    const tokens: number[] = [];
    let atFirst = { pipelines: 0, planned: false };
    for await (const t of session.generate(prompt, n, undefined, { firstTokenEarly })) {
      if (tokens.length === 0) {
        atFirst = {
          pipelines: session.runtime.pipelines.size,
          planned: session.kvStore.plan !== undefined,
        };
      }
      tokens.push(t);
    }
    return { tokens, atFirst, pipelines: session.runtime.pipelines.size };
  } finally {
    session.close();
  }
}

for (
  const [name, length] of [["a 5-token prompt", 5], [
    "a 200-token prompt (compressed)",
    200,
  ]] as const
) {
  Deno.test({
    name: `generate streams the first token of ${name} before the KV cache compresses, same tokens`,
    ...gpuTestOptions,
    fn: async () => {
      const probe = await d2oSession();
      const prompt = probe.tokenizer.encode(TEXT).slice(0, length);
      probe.close();
      assert.equal(prompt.length, length);
      const early = await run(prompt, 12, true);
      const late = await run(prompt, 12, false);
      assert.deepEqual(early.tokens, late.tokens);
      assert.equal(
        early.atFirst.planned,
        false,
        "early: the cache is not planned at the first token",
      );
      assert.equal(
        late.atFirst.planned,
        true,
        "default: the cache is compressed at the first token",
      );
      assert.ok(
        early.atFirst.pipelines < late.atFirst.pipelines,
        `early: ${early.atFirst.pipelines} pipelines at the first token, default ${late.atFirst.pipelines}`,
      );
      assert.equal(early.pipelines, late.pipelines, "the same pipelines by the end");
    },
  });
}

Deno.test({
  name: "a caller that stops at the first early token still leaves the KV cache compressed",
  ...gpuTestOptions,
  fn: async () => {
    const session = await d2oSession();
    try {
      const prompt = session.tokenizer.encode("Once upon a time");
      for await (const _ of session.generate(prompt, 8, undefined, { firstTokenEarly: true })) {
        assert.equal(session.kvStore.plan, undefined);
        break;
      }
      assert.ok(session.kvStore.plan, "planned after the caller stopped");
      assert.ok(session.kvStore.step, "the decode caches are bound");
    } finally {
      session.close();
    }
  },
});

Deno.test({
  name: "a prompt graph sized for a short prompt is rebuilt for a longer chunk, same logits",
  ...gpuTestOptions,
  fn: async () => {
    const runtime = createRuntime(await testGpu());
    const open = () => Session.open(STORIES, { nCtx: 256, allLogits: true, maxBatch: 64, runtime });
    const fresh = await open();
    const reused = await open();
    try {
      const ids = fresh.tokenizer.encode(TEXT).slice(0, 40);
      const want = await fresh.evaluate(ids);
      await reused.prefill(ids.slice(0, 3)); // the prompt graph now covers 3 rows
      reused.reset();
      const got = await reused.evaluate(ids);
      assert.deepEqual(got, want);
    } finally {
      fresh.close();
      reused.close();
    }
  },
});
