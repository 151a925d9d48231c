/**
 * Writing a command's output file without ever losing one of the user's
 * files: the path is checked before the run (never an input such as the model
 * or the prompt file, never an existing file that is not one of our outputs
 * unless `--force`, and it must be writable: a long run never fails at its end
 * for a read-only folder), and the bytes go to a temporary file renamed into
 * place, so a failed run leaves no half file. Messages name the user's path in
 * our words, never the temporary file or an OS error number.
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
 * Checks, before any work (before the model is read), that `path` can take
 * the output: its directory exists and takes a new file (a probe file is
 * made there and removed), or the device opens for writing.
 *
 * @param path the output path
 * @param guard the inputs, the test of our own files, and `--force`
 * @throws {UsageError} when the path is an input (same file), a directory, or someone else's file without `--force`
 * @throws {InputError} when it cannot be written (its directory does not exist, permission
 *   denied, a read-only file system, a device d2o may not open), naming `path`
 */
export async function checkOutputPath(path: string, guard: OutputGuard): Promise<void> {
  const { flag } = guard;
  if (path.trim() === "") throw new UsageError(`Cannot write ${flag} to an empty file name`);
  const target = await statOrUndefined(path, flag);
  if (!target) {
    const dir = await statOrUndefined(dirname(path), flag);
    if (!dir) throw cannotWrite(path, flag, "its directory does not exist");
    if (!dir.isDirectory) throw cannotWrite(path, flag, `"${dirname(path)}" is not a directory`);
    return await probeDirectory(path, flag);
  }
  for (const [what, input] of Object.entries(guard.inputs)) {
    if (input === undefined || input === "-") continue;
    const other = await statOrUndefined(input, flag).catch(() => undefined);
    if (other && sameFile(target, other)) {
      throw new UsageError(`Cannot write ${flag} "${path}": it is ${what}; choose another file`);
    }
  }
  if (target.isDirectory) {
    throw new UsageError(`Cannot write ${flag} "${path}": it is a directory`);
  }
  if (target.isCharDevice) return await probeDevice(path, flag);
  // A pipe or socket is written as it is; opening it now would wait for its reader.
  if (!target.isFile) return;
  // An empty file (e.g. one made by mktemp for the output) holds nothing to lose.
  if (!guard.force && target.size > 0 && !guard.isOurs(await readHead(path))) {
    throw new UsageError(
      `Cannot write ${flag} "${path}": the file exists and is not one of ours; ` +
        `add --force to replace it`,
    );
  }
  await probeDirectory(path, flag);
}

/**
 * Writes `text` to `path` through a temporary file in the same directory that
 * is renamed into place; a device or pipe (e.g. `/dev/null`) is written directly.
 *
 * @param path the output path (checked with {@linkcode checkOutputPath})
 * @param text the content
 * @param flag the flag that names it, for messages
 * @throws {InputError} when the file cannot be written, naming `path` (nothing is left behind)
 */
export async function writeOutputFile(path: string, text: string, flag: string): Promise<void> {
  const target = await statOrUndefined(path, flag);
  if (target && !target.isFile) return await writeOrExplain(path, text, flag);
  const temp = tempPath(path);
  try {
    await Deno.writeTextFile(temp, text, { createNew: true });
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw cannotWrite(path, flag, whyNot(error), error);
  }
}

/** A temporary file beside `path`, hidden, that the rename puts in place. */
function tempPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.${crypto.randomUUID().slice(0, 8)}.tmp`);
}

/** Makes and removes a file beside `path`: the directory takes the temporary file and the rename. */
async function probeDirectory(path: string, flag: string): Promise<void> {
  const probe = tempPath(path);
  try {
    (await Deno.open(probe, { write: true, createNew: true })).close();
  } catch (error) {
    throw cannotWrite(path, flag, whyNot(error), error);
  }
  await Deno.remove(probe).catch(() => {});
}

/** Opens a device for writing without writing (a full device shows only when written). */
async function probeDevice(path: string, flag: string): Promise<void> {
  try {
    (await Deno.open(path, { write: true })).close();
  } catch (error) {
    throw cannotWrite(path, flag, whyNot(error), error);
  }
}

async function writeOrExplain(path: string, text: string, flag: string): Promise<void> {
  try {
    await Deno.writeTextFile(path, text);
  } catch (error) {
    throw cannotWrite(path, flag, whyNot(error), error);
  }
}

function cannotWrite(path: string, flag: string, why: string, cause?: unknown): InputError {
  return new InputError(`Cannot write ${flag} "${path}": ${why}`, { cause });
}

/** Why a write failed, in our words: never the temporary file's name or an OS error number. */
export function whyNot(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "its directory does not exist";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.NotCapable) return NOT_CAPABLE;
  if (error instanceof Deno.errors.IsADirectory) return "it is a directory";
  if (error instanceof Deno.errors.NotADirectory) return "a part of its path is not a directory";
  const known: Record<string, string> = {
    EROFS: "the file system is read-only",
    ENOSPC: "no space left on device",
    EDQUOT: "the disk quota is used up",
    ENAMETOOLONG: "the name is too long",
    EACCES: "permission denied",
    EPERM: "permission denied",
  };
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && known[code]) return known[code];
  const message = (error as Error).message.replace(/ \(os error \d+\).*$/s, "");
  return message.charAt(0).toLowerCase() + message.slice(1);
}

/** Why d2o cannot open a path Deno guards (devices, /proc) under the permissions it runs with. */
const NOT_CAPABLE =
  "d2o runs without the permission to open it (Deno grants devices, /proc and /sys only with " +
  "--allow-all); write to a regular file";

/** The path's stat, undefined when it does not exist; a path d2o may not look at is refused. */
async function statOrUndefined(path: string, flag: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    if (error instanceof Deno.errors.NotCapable) throw cannotWrite(path, flag, NOT_CAPABLE, error);
    if (error instanceof Deno.errors.NotADirectory) return undefined;
    throw cannotWrite(path, flag, whyNot(error), error);
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
