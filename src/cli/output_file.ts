/**
 * Writing a command's output file without ever losing one of the user's
 * files: the path is checked before the run (never an input such as the model
 * or the prompt file, never an existing file that is not one of our outputs
 * unless `--force`), and the bytes go to a temporary file renamed into place,
 * so a failed run leaves no half file.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { InputError, UsageError } from "../errors.ts";

/** What an output path must not clobber. */
export interface OutputGuard {
  /** The flag that names the output, for messages (e.g. `--html`). */
  readonly flag: string;
  /** The command's input files, by what they are (e.g. `{ "the model": "m.gguf" }`). */
  readonly inputs: Readonly<Record<string, string | undefined>>;
  /** Whether an existing file passes this test of being one of our outputs. */
  readonly isOurs: (head: string) => boolean;
  /** `--force`: replace an existing file that is not ours (inputs are never replaced). */
  readonly force: boolean;
}

/**
 * Checks, before any work, that `path` can take the output.
 *
 * @param path the output path
 * @param guard the inputs, the test of our own files, and `--force`
 * @throws {UsageError} when the path is an input (same file), a directory, or someone else's file without `--force`
 * @throws {InputError} when its directory does not exist
 */
export async function checkOutputPath(path: string, guard: OutputGuard): Promise<void> {
  const { flag } = guard;
  if (path.trim() === "") throw new UsageError(`Cannot write ${flag} to an empty file name`);
  const target = await statOrUndefined(path);
  if (!target) {
    const dir = await statOrUndefined(dirname(path));
    if (!dir?.isDirectory) {
      throw new InputError(`Cannot write ${flag} "${path}": its directory does not exist`);
    }
    return;
  }
  for (const [what, input] of Object.entries(guard.inputs)) {
    if (input === undefined || input === "-") continue;
    const other = await statOrUndefined(input);
    if (other && sameFile(target, other)) {
      throw new UsageError(`Cannot write ${flag} "${path}": it is ${what}; choose another file`);
    }
  }
  if (target.isDirectory) {
    throw new UsageError(`Cannot write ${flag} "${path}": it is a directory`);
  }
  // An empty file (e.g. one made by mktemp for the output) holds nothing to lose.
  if (!target.isFile || guard.force || target.size === 0) return;
  if (!guard.isOurs(await readHead(path))) {
    throw new UsageError(
      `Cannot write ${flag} "${path}": the file exists and is not one of ours; ` +
        `add --force to replace it`,
    );
  }
}

/**
 * Writes `text` to `path` through a temporary file in the same directory that
 * is renamed into place; a device or pipe (e.g. `/dev/stdout`) is written directly.
 *
 * @param path the output path (checked with {@linkcode checkOutputPath})
 * @param text the content
 * @param flag the flag that names it, for messages
 * @throws {InputError} when the file cannot be written (nothing is left behind)
 */
export async function writeOutputFile(path: string, text: string, flag: string): Promise<void> {
  const target = await statOrUndefined(path);
  if (target && !target.isFile) return await writeOrExplain(path, text, flag);
  const temp = join(dirname(path), `.${basename(path)}.${crypto.randomUUID().slice(0, 8)}.tmp`);
  try {
    await Deno.writeTextFile(temp, text, { createNew: true });
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw cannotWrite(path, flag, error);
  }
}

async function writeOrExplain(path: string, text: string, flag: string): Promise<void> {
  try {
    await Deno.writeTextFile(path, text);
  } catch (error) {
    throw cannotWrite(path, flag, error);
  }
}

function cannotWrite(path: string, flag: string, error: unknown): InputError {
  const why = error instanceof Deno.errors.NotFound
    ? "its directory does not exist"
    : error instanceof Deno.errors.PermissionDenied
    ? "permission denied"
    : (error as Error).message;
  return new InputError(`Cannot write ${flag} "${path}": ${why}`, { cause: error });
}

async function statOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.stat(path);
  } catch {
    return undefined;
  }
}

function sameFile(a: Deno.FileInfo, b: Deno.FileInfo): boolean {
  return a.dev === b.dev && a.ino !== null && a.ino === b.ino;
}

/** The first 4 KiB of a file as text ("" when unreadable). */
async function readHead(path: string): Promise<string> {
  try {
    using file = await Deno.open(path, { read: true });
    const buf = new Uint8Array(4096);
    const n = await file.read(buf);
    return new TextDecoder().decode(buf.subarray(0, n ?? 0));
  } catch {
    return "";
  }
}
