/**
 * The prompts files of the `generate --prompts` tests.
 *
 * @module
 */

/** Runs `use` on a JSON Lines prompts file of `entries` (one object a line), removed after. */
export async function withPrompts<T>(
  entries: readonly Record<string, unknown>[],
  use: (file: string) => Promise<T>,
): Promise<T> {
  const file = await Deno.makeTempFile({ suffix: ".jsonl" });
  try {
    await Deno.writeTextFile(file, entries.map((e) => JSON.stringify(e)).join("\n") + "\n");
    return await use(file);
  } finally {
    await Deno.remove(file);
  }
}
