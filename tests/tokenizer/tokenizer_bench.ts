/**
 * Tokenizer throughput: 1 MiB of English text (ppl-text.txt repeated) with
 * stories260K's 512-token vocabulary and Llama 2's 32,000-token one. Each
 * iteration encodes the whole MiB, so MiB/s = 1 / (time per iteration in s).
 *
 * Run: deno bench -A tests/tokenizer/tokenizer_bench.ts
 *
 * @module
 */

import { modelTokenizer, sharedPath } from "./_shared.ts";

const MIB = 1 << 20;
const sample = Deno.readTextFileSync(sharedPath("oracle/ppl-text.txt"));
// ppl-text.txt is ASCII, so characters are bytes.
const text = sample.repeat(Math.ceil(MIB / sample.length)).slice(0, MIB);

const stories = await modelTokenizer("stories260K.gguf");
const llama2 = await modelTokenizer("llama-2-tiny-random.gguf");

Deno.bench("encode 1 MiB of English, stories260K vocabulary (512 tokens)", {
  group: "encode 1 MiB",
  baseline: true,
}, () => {
  stories.encode(text);
});

Deno.bench("encode 1 MiB of English, Llama 2 vocabulary (32,000 tokens)", {
  group: "encode 1 MiB",
}, () => {
  llama2.encode(text);
});

const ids = llama2.encode(text);

Deno.bench("decode 1 MiB of English, Llama 2 vocabulary", { group: "decode 1 MiB" }, () => {
  llama2.decode(ids);
});
