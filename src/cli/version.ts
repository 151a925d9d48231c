/**
 * What `d2o --version` prints: the program and its version, the Deno runtime
 * it runs on (V8, TypeScript), and the WebGPU adapter a run would get — the
 * facts a bug report needs.
 *
 * @module
 */

import { describeAdapter, NO_ADAPTER_HINT } from "../gpu/device.ts";

/** Version of d2o (as in deno.json). */
export const VERSION = "0.1.0";

/**
 * The `--version` text, three lines: `d2o 0.1.0`, the Deno runtime, the
 * WebGPU adapter (asking for it costs about 0.1 s on a software adapter; no
 * device is created).
 *
 * @returns the text, ending with a newline
 */
export async function versionText(): Promise<string> {
  const { deno, v8, typescript } = Deno.version;
  let adapter: string;
  try {
    adapter = await describeAdapter() ?? NO_ADAPTER_HINT;
  } catch (error) {
    adapter = `no adapter: ${(error as Error).message.split("\n")[0]}`;
  }
  return `d2o ${VERSION}\nDeno ${deno} (V8 ${v8}, TypeScript ${typescript})\nWebGPU: ${adapter}\n`;
}
