import assert from "node:assert/strict";
import { flagValue, positionals } from "../../scripts/bench/args.ts";

Deno.test("flagValue() reads a flag's value, its fallback when absent, and refuses a flag without one", () => {
  assert.equal(flagValue(["--rounds", "5", "a.gguf"], "--rounds", "3"), "5");
  assert.equal(flagValue(["a.gguf"], "--rounds", "3"), "3");
  assert.throws(() => flagValue(["a.gguf", "--rounds"], "--rounds", "3"), /--rounds needs a value/);
  assert.throws(() => flagValue(["a.gguf"], "--base"), /--base is required/);
});

Deno.test("positionals() keeps the arguments that are neither flags nor their values", () => {
  assert.deepEqual(
    positionals(["a.gguf", "--pp", "64", "b.gguf", "--base", "../old"], ["--pp", "--base"]),
    ["a.gguf", "b.gguf"],
  );
});
