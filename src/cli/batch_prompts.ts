/**
 * The `generate --prompts FILE` file: one prompt per line, or JSON Lines
 * objects `{"id", "prompt", "n_predict", "temp", "seed", "stop"}` (all but
 * `prompt` optional). A file whose first non-blank line starts with `{` is
 * JSON Lines; blank lines are skipped either way.
 *
 * @module
 */

import { InputError } from "../errors.ts";
import { decodeUtf8 } from "./utf8_text.ts";

/** One prompt of the file, with what it sets for itself. */
export interface PromptEntry {
  /** Its `id`, else its line number (1-based). */
  readonly id: string | number;
  /** The prompt text. */
  readonly prompt: string;
  /** Its `n_predict` (−1 = to the full context). */
  readonly nPredict?: number;
  /** Its `temp`. */
  readonly temp?: number;
  /** Its `seed`. */
  readonly seed?: number;
  /** Its `stop` strings. */
  readonly stop?: readonly string[];
}

/**
 * Reads and validates a prompts file.
 *
 * @param path the file
 * @returns its prompts, in order
 * @throws {InputError} when the file cannot be read, is not UTF-8, is empty, or a line is
 *   malformed (naming the line)
 */
export async function readPromptsFile(path: string): Promise<PromptEntry[]> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    throw new InputError(`Cannot read prompts file "${path}": ${(error as Error).message}`, {
      cause: error,
    });
  }
  return parsePrompts(decodeUtf8(bytes, `prompts file "${path}"`), path);
}

/**
 * Parses a prompts file's text.
 *
 * @param text the file's text
 * @param path the file's name (for errors)
 * @returns its prompts, in order
 * @throws {InputError} for an empty file or a malformed line
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parsePrompts } from "./batch_prompts.ts";
 * const [entry] = parsePrompts('{"id": "a", "prompt": "Hi", "n_predict": 4}\n', "p.jsonl");
 * assert.deepEqual(entry, { id: "a", prompt: "Hi", nPredict: 4 });
 * ```
 */
export function parsePrompts(text: string, path: string): PromptEntry[] {
  const lines = text.split(/\r?\n/).map((line, i) => ({ line, n: i + 1 }))
    .filter(({ line }) => line.trim().length > 0);
  if (lines.length === 0) {
    throw new InputError(`Cannot read prompts file "${path}": it has no prompts`);
  }
  if (!lines[0]!.line.trimStart().startsWith("{")) {
    return lines.map(({ line, n }) => ({ id: n, prompt: line }));
  }
  const ids = new Set<string | number>();
  return lines.map(({ line, n }) => {
    const entry = parseEntry(line, n, path);
    if (ids.has(entry.id)) {
      throw new InputError(
        `Cannot read "${path}" line ${n}: id ${JSON.stringify(entry.id)} is used twice`,
      );
    }
    ids.add(entry.id);
    return entry;
  });
}

/** One JSON Lines object. */
function parseEntry(line: string, n: number, path: string): PromptEntry {
  const fail = (why: string): never => {
    throw new InputError(`Cannot read "${path}" line ${n}: ${why}`);
  };
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    fail(`not JSON (${(error as Error).message})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail("expected an object");
  }
  const o = value as Record<string, unknown>;
  const known = new Set(["id", "prompt", "n_predict", "temp", "seed", "stop"]);
  for (const key of Object.keys(o)) {
    if (!known.has(key)) fail(`unknown field "${key}" (expected ${[...known].join(", ")})`);
  }
  if (typeof o.prompt !== "string") fail(`"prompt" must be a string`);
  const id = o.id ?? n;
  if (typeof id !== "string" && typeof id !== "number") fail(`"id" must be a string or a number`);
  const integer = (key: string, min: number, max: number) => {
    const v = o[key];
    if (v === undefined) return {};
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
      fail(`"${key}" must be an integer from ${min} to ${max}`);
    }
    return { [key === "n_predict" ? "nPredict" : key]: v as number };
  };
  if (o.temp !== undefined && (typeof o.temp !== "number" || !(o.temp >= 0))) {
    fail(`"temp" must be a number ≥ 0`);
  }
  const stop = typeof o.stop === "string" ? [o.stop] : o.stop;
  if (stop !== undefined && (!Array.isArray(stop) || stop.some((s) => typeof s !== "string"))) {
    fail(`"stop" must be a string or a list of strings`);
  }
  return {
    id: id as string | number,
    prompt: o.prompt as string,
    ...integer("n_predict", -1, Number.MAX_SAFE_INTEGER),
    ...integer("seed", -1, 0xfffffffe),
    ...(o.temp === undefined ? {} : { temp: o.temp as number }),
    ...(stop === undefined ? {} : { stop: stop as string[] }),
  };
}
