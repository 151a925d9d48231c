/**
 * KV-policy quality at scale, on the CPU twin: `ReferencePolicyModel` (the
 * reference forward pass over the policy's slot cache, which the twin tests
 * hold to the GPU path: same positions, victims, merge targets and τ; its
 * h2o/d2o perplexities on `ppl-text.txt` equal `d2o profile`'s to 6 digits)
 * runs `profile --text`'s protocol — the first `prefix` tokens are the prompt,
 * compressed by the policy, the next `scored` are fed one by one and scored
 * against one full-cache run — about 5× faster than lavapipe, for tables of
 * many policies, budgets and prompt lengths.
 *
 * ```sh
 * deno run -A scripts/kv_quality.ts --text fixtures/profile_text.txt --prefix 256,512,1024 \
 *   --scored 256 --kv-budget 0.05,0.1,0.2,0.5 --configs baselines
 * ```
 *
 * `--configs baselines` runs streaming, h2o and d2o; `--configs search` adds
 * the `profile --ablate` rows (the D2O variant search); or a comma-separated
 * list of those rows' labels. Prints one markdown
 * table: text, prompt, policy, budget, ppl, KL vs full, same top, KV vs full.
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { KvOptionsInput } from "../src/kv/options.ts";
import { resolveKvOptions } from "../src/kv/options.ts";
import { createKvPolicy } from "../src/kv/registry.ts";
import { openModel } from "../src/model/model_file.ts";
import { D2O_ABLATIONS } from "../src/profile/configs.ts";
import { QualityAccumulator, type QualityScore } from "../src/profile/quality.ts";
import { ReferencePolicyModel } from "../src/reference/kv_forward.ts";
import { loadReferenceWeights, type ReferenceWeights } from "../src/reference/model_weights.ts";
import { tokenizerFromMetadata } from "../src/tokenizer/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    model: { type: "string", short: "m", default: "../shared/models/stories260K.gguf" },
    text: { type: "string", multiple: true },
    prefix: { type: "string" },
    scored: { type: "string" },
    "kv-budget": { type: "string", default: "0.1,0.2,0.5" },
    "kv-min": { type: "string", default: "1" },
    configs: { type: "string", default: "baselines" },
  },
});

const model = await openModel(values.model);
const weights = await loadReferenceWeights(model);
const tokenizer = tokenizerFromMetadata(model.gguf.metadata);
model.close();
const budgets = values["kv-budget"].split(",");
const baselines: [string, KvOptionsInput][] = [
  ["streaming", { kv: "streaming" }],
  ["h2o", { kv: "h2o" }],
  ["d2o", { kv: "d2o" }],
];
const d2oOptions = resolveKvOptions({ kv: "d2o" });
const ablations = D2O_ABLATIONS.map((
  a,
): [string, KvOptionsInput] => [a.label, a.input(d2oOptions)]);
const configs = values.configs === "baselines"
  ? baselines
  : values.configs === "search"
  ? [...baselines, ...ablations]
  : [...baselines, ...ablations].filter(([label]) => values.configs.split(",").includes(label));

console.log("| text | prompt | policy | budget | ppl | KL vs full | same top | KV vs full |");
console.log("| --- | ---: | --- | --- | ---: | ---: | ---: | ---: |");
for (const path of values.text ?? []) {
  const ids = tokenizer.encode(await Deno.readTextFile(path));
  const name = path.split("/").at(-1)!;
  const prefixes = values.prefix?.split(",").map(Number) ?? [Math.floor(ids.length / 2)];
  for (const prefix of prefixes) {
    const scored = Math.min(Number(values.scored ?? Infinity), ids.length - prefix);
    const tokens = ids.slice(0, prefix + scored);
    const full = run(weights, tokens, prefix, { kv: "full" }, undefined);
    for (const [label, input] of configs) {
      for (const budget of budgets) {
        const r = run(weights, tokens, prefix, {
          ...input,
          kvBudget: budget,
          kvMin: values["kv-min"],
        }, full.reference);
        const s = r.score;
        console.log(
          `| ${name} | ${prefix} | ${label} | ${budget} | ${s.perplexity.toFixed(6)} | ${
            s.meanKl.toFixed(6)
          } | ${(100 * s.sameTop).toFixed(2)}% | ${(100 * r.kvShare).toFixed(1)}% |`,
        );
      }
    }
  }
}

/** One scored run of `tokens` under a policy; the reference distributions when recording. */
function run(
  w: ReferenceWeights,
  tokens: readonly number[],
  prefix: number,
  input: KvOptionsInput,
  reference: ReturnType<QualityAccumulator["reference"]> | undefined,
): {
  score: QualityScore;
  kvShare: number;
  reference: ReturnType<QualityAccumulator["reference"]>;
} {
  const policy = createKvPolicy(resolveKvOptions(input));
  const m = new ReferencePolicyModel(w, policy, { nCtx: tokens.length });
  const nVocab = w.hparams.nVocab;
  const acc = new QualityAccumulator(
    nVocab,
    tokens.length - prefix,
    reference ? { reference } : { record: true },
  );
  acc.add(m.forward(tokens.slice(0, prefix), 0), tokens[prefix]!);
  for (let p = prefix; p < tokens.length - 1; p++) {
    acc.add(m.forward([tokens[p]!], p), tokens[p + 1]!);
  }
  // Rows held at the end over the full cache's rows of the model's own KV heads.
  const hp = w.hparams;
  let held = 0;
  for (let l = 0; l < hp.nLayer; l++) held += m.layerState(l).pos.filter((p) => p >= 0).length;
  const kvShare = held / (hp.nLayer * hp.nHeadKv * tokens.length);
  return { score: acc.score(), kvShare, reference: reference ?? acc.reference() };
}
