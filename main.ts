/**
 * d2o: run LLaMA-family GGUF models on WebGPU with a D2O-compressed KV cache.
 *
 * Entry point: builds the command tree and runs it; everything else lives in `src/`.
 *
 * @module
 */

import { runCli } from "./src/cli/program.ts";

if (import.meta.main) {
  Deno.exitCode = await runCli(Deno.args);
}
