/**
 * `deno task demo`: the main job on a built-in default. Generates a story with
 * stories260K when the project's shared test models sit beside the checkout,
 * otherwise with a generated fixture model (random weights: gibberish, but the
 * whole path runs). Extra arguments go to `d2o generate`.
 *
 * @module
 */

import { runCli } from "../src/cli/program.ts";
import { ensureFixtures } from "../fixtures/make_fixtures.ts";

const shared = new URL("../../shared/models/stories260K.gguf", import.meta.url);

async function defaultModel(): Promise<string> {
  try {
    await Deno.stat(shared);
    return shared.pathname;
  } catch {
    const fixtures = await ensureFixtures();
    const path = fixtures.get("llama-q8_0");
    if (!path) throw new Error("the fixture builder made no llama-q8_0 model");
    console.error(
      "demo: ../shared/models/stories260K.gguf not found; using a random-weight fixture",
    );
    return path;
  }
}

if (import.meta.main) {
  const model = await defaultModel();
  const args = Deno.args.length > 0 ? Deno.args : ["Once upon a time", "-n", "96", "--verbose"];
  Deno.exitCode = await runCli(["generate", "-m", model, ...args]);
}
