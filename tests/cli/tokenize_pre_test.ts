import assert from "node:assert/strict";
import { withPre } from "../llama/_vocab.ts";
import { sharedPath } from "../tokenizer/_shared.ts";
import { runD2o } from "./_run.ts";

Deno.test("tokenize: a pre-tokenizer llama.cpp maps works, an unknown one is one line and exit 4", async () => {
  const dir = await Deno.makeTempDir({ prefix: "d2o-pre-" });
  try {
    const base = sharedPath("vocab/ggml-vocab-llama-bpe.gguf");
    const known = await runD2o([
      "tokenize",
      "-m",
      await withPre(base, "deepseek-v3", dir),
      "a 12345",
    ]);
    assert.equal(known.code, 0, known.stderr);
    assert.equal(known.stdout, "64 220 4513 1774\n");
    const unknown = await runD2o(["tokenize", "-m", await withPre(base, "no-such-pre", dir), "a"]);
    assert.equal(unknown.code, 4);
    assert.match(
      unknown.stderr,
      /^d2o: .*pre-tokenizer "no-such-pre" \(tokenizer\.ggml\.pre\) is not supported/,
    );
    assert.equal(unknown.stderr.trimEnd().split("\n").length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
