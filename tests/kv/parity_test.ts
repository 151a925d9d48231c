/**
 * `--parity` against the D2O authors' own code: `../shared/oracle/d2o-official.json`
 * holds the perplexities their code (AIoT-MLSys-Lab/D2O at 12c99d8, fp32) gives
 * stories260K on `ppl-text.txt` with the first 724 tokens as the prompt and the
 * other 725 fed one by one and scored. The same protocol through the GPU
 * session (`scoreText`, what `profile --text` runs) must give the same
 * perplexity within 1e-4 for D2O 1:1 α = β = 0.5, H2O 72+72 and StreamingLLM
 * 4+72 and 4+141, and D2O's real KV share (their repeated heads: twice ours).
 */

import assert from "node:assert/strict";
import { createRuntime, type GpuRuntime } from "../../src/gpu/runtime.ts";
import { type KvOptionsInput, resolveKvOptions } from "../../src/kv/options.ts";
import { Session } from "../../src/model/session.ts";
import { resolvePrefix, scoreText } from "../../src/profile/text_quality.ts";
import { gpuTestOptions, testGpu } from "../_gpu.ts";

const ORACLE = new URL("../../../shared/oracle/", import.meta.url);
const STORIES = new URL("../../../shared/models/stories260K.gguf", import.meta.url).pathname;
const TEXT = await Deno.readTextFile(new URL("ppl-text.txt", ORACLE));
const OFFICIAL: {
  prompt_tokens: number;
  scored_tokens: number;
  runs: { official_run: string; ppl: number; kv: number }[];
} = JSON.parse(await Deno.readTextFile(new URL("d2o-official.json", ORACLE)));

const CASES: [string, string, KvOptionsInput][] = [
  ["D2O 1:1 α=β=0.5", "d2o_1to1_a05", { kv: "d2o", parity: true }],
  ["H2O 72+72", "h2o", { kv: "h2o", parity: true }],
  ["StreamingLLM 4+72", "streaming_r01", { kv: "streaming", kvBudget: 76, parity: true }],
  ["StreamingLLM 4+141", "streaming_r_match", { kv: "streaming", parity: true }],
];

let runtime: GpuRuntime | undefined;

for (const [label, run, input] of CASES) {
  Deno.test({
    name: `--parity reproduces the authors' ${label} perplexity on ppl-text.txt within 1e-4`,
    ...gpuTestOptions,
    async fn() {
      runtime ??= createRuntime(await testGpu());
      const official = OFFICIAL.runs.find((r) => r.official_run === run)!;
      const session = await Session.open(STORIES, {
        nCtx: 1449,
        runtime,
        kv: resolveKvOptions(input),
      });
      try {
        const tokens = session.tokenizer.encode(TEXT);
        const prefix = resolvePrefix(undefined, tokens.length);
        assert.equal(prefix, OFFICIAL.prompt_tokens);
        assert.equal(tokens.length - prefix, OFFICIAL.scored_tokens);
        const { score, memory } = await scoreText(session, tokens, prefix);
        assert.ok(
          Math.abs(score.perplexity - official.ppl) <= 1e-4,
          `${label}: ppl ${score.perplexity} vs the authors' ${official.ppl}`,
        );
        if (input.kv === "d2o") {
          // The authors' share is of their own cache, which repeats the KV heads too.
          const group = session.hparams.nHead / session.hparams.nHeadKv;
          const share = memory.kvLiveBytes / (group * memory.kvFullBytes);
          assert.ok(Math.abs(share - official.kv) < 2e-3, `kv share ${share} vs ${official.kv}`);
        }
      } finally {
        session.close();
      }
    },
  });
}
