/**
 * Peak host memory of a model's weight upload (issue 18's target: peak RSS
 * ≤ 1.3× the weights on a CPU adapter, where the GPU buffers are host memory).
 * A child process uploads a generated 244 MiB model whose largest tensor is a
 * 128 MiB embedding; its peak RSS may exceed what it held before the upload
 * (Deno, the adapter, the parsed file: about 140 MiB on lavapipe, held under
 * 320 MiB here) by at most 1.3× the weights. Streaming through bounded staging
 * adds 1.09× (the weights and about 22 MiB); holding the embedding whole
 * beside the queue's staging copy of every weight added 2.53×
 * (`docs/results/2026-12-06-upload-memory.md`).
 */
import assert from "node:assert/strict";
import { ensureFixture, type FixtureOptions } from "../../fixtures/make_fixtures.ts";
import { GgmlType } from "../../src/gguf/ggml_type.ts";
import { skipGpu } from "../_gpu.ts";

const CHILD = new URL("./_upload_rss_child.ts", import.meta.url).pathname;
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;
const MIB = 2 ** 20;

/** F32 weights (no quantizing to wait for): a 32,768 × 1024 tied embedding and two 1024-wide layers. */
const MODEL: FixtureOptions = {
  name: "upload-rss-f32",
  arch: "llama",
  weightType: GgmlType.F32,
  nEmbd: 1024,
  nLayer: 2,
  nHead: 8,
  nHeadKv: 2,
  nFf: 4096,
  nVocab: 32768,
  contextLength: 256,
  tiedEmbeddings: true,
  seed: 18,
};

/** Ratio of the weights the upload may add to the peak RSS. */
const UPLOAD_RATIO = 1.3;
/** Bound on the child's footprint before the upload, so the allowance hides nothing large. */
const BEFORE_LIMIT = 320 * MIB;

Deno.test({
  name: "uploading a 244 MiB model raises peak RSS by at most 1.3× its weights",
  ignore: skipGpu || Deno.build.os !== "linux",
  fn: async () => {
    const path = await ensureFixture(MODEL);
    const out = await new Deno.Command(Deno.execPath(), {
      // All permissions only so the child may read its own /proc status (its peak RSS).
      args: ["run", "--config", CONFIG, "--allow-all", CHILD, path],
      stdin: "null",
      env: { NO_COLOR: "1" },
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    const { before, peak, weights } = JSON.parse(new TextDecoder().decode(out.stdout));
    const mib = (b: number) => `${(b / MIB).toFixed(0)} MiB`;
    const what = `before ${mib(before)}, peak ${mib(peak)}, weights ${mib(weights)}: the ` +
      `upload added ${((peak - before) / weights).toFixed(2)}× the weights`;
    console.log(what);
    assert.ok(weights > 240 * MIB, what);
    assert.ok(before < BEFORE_LIMIT, what);
    assert.ok(peak - before <= UPLOAD_RATIO * weights, what);
  },
});
