/**
 * The command line of the one-question bench scripts: `--name value` flags
 * and the arguments that are not flags (model files).
 *
 * @module
 */

/**
 * The value after `name` in a script's arguments (`--rounds 3`), else `fallback`.
 *
 * @param args the script's arguments
 * @param name the flag, e.g. `--rounds`
 * @param fallback its value when absent; none: the flag is required
 * @throws {Error} when the flag has no value, or is absent and has no fallback
 */
export function flagValue(args: readonly string[], name: string, fallback?: string): string {
  const at = args.indexOf(name);
  if (at < 0) {
    if (fallback === undefined) throw new Error(`${name} is required`);
    return fallback;
  }
  const value = args[at + 1];
  if (value === undefined) throw new Error(`${name} needs a value`);
  return value;
}

/**
 * The arguments that are neither one of the flags `names` nor a flag's value.
 *
 * @param args the script's arguments
 * @param names the flags that take a value
 */
export function positionals(args: readonly string[], names: readonly string[]): string[] {
  return args.filter((arg, i) => !names.includes(arg) && !names.includes(args[i - 1] ?? ""));
}
