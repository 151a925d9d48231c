/**
 * Commander's parse errors as one `d2o: …` line: the flag, what is wrong with
 * it, its valid range, and where the help is — never the whole help.
 *
 * @module
 */

import type { CommanderError } from "commander";

/**
 * The one line (without the `d2o: ` prefix) for a commander parse error.
 *
 * @param error what commander threw
 * @param command the command path that failed, e.g. `"d2o generate"`
 * @returns the message, ending with where the help is
 */
export function usageLine(error: CommanderError, command: string): string {
  const help = `see \`${command} --help\``;
  const text = error.message.replace(/^error: /, "");
  const m = (re: RegExp) => text.match(re);
  let line: string;
  let found: RegExpMatchArray | null;
  if ((found = m(/^option '([^']+)' argument '(.*)' is invalid\. (.*)$/s))) {
    line = `Cannot use ${flagName(found[1]!)} "${found[2]}": ${found[3]}`;
  } else if (
    (found = m(/^command-argument value '(.*)' is invalid for argument '([^']+)'\. (.*)$/s))
  ) {
    line = `Cannot use "${found[1]}" as ${found[2]}: ${found[3]}`;
  } else if ((found = m(/^unknown option '([^']+)'(?:\s*\(Did you mean (\S+)\?\))?/))) {
    line = `Unknown option ${found[1]}${found[2] ? ` (did you mean ${found[2]}?)` : ""}`;
  } else if ((found = m(/^required option '([^']+)' not specified/))) {
    line = `Missing ${flagName(found[1]!)}: it is required`;
  } else if ((found = m(/^option '([^']+)' argument missing/))) {
    line = `Missing the value of ${flagName(found[1]!)}`;
  } else if ((found = m(/^missing required argument '([^']+)'/))) {
    line = `Missing the ${found[1]} argument`;
  } else if (
    (found = m(
      /^too many arguments(?: for '[^']+')?\. Expected (\d+) arguments? but got \d+: (.*)\.$/s,
    ))
  ) {
    line = `Too many arguments: ${found[2]} (expected at most ${
      found[1]
    }; quote a prompt with spaces)`;
  } else if ((found = m(/^unknown command '([^']+)'(?:\s*\(Did you mean (\S+)\?\))?/))) {
    line = `Unknown command "${found[1]}"${found[2] ? ` (did you mean ${found[2]}?)` : ""}`;
  } else {
    line = text.charAt(0).toUpperCase() + text.slice(1).trimEnd();
  }
  return `${line.replace(/\.$/, "")}; ${help}`;
}

/** `-n, --max-tokens <n>` → `-n/--max-tokens`. */
function flagName(flags: string): string {
  return flags.replace(/\s*[<[].*$/, "").split(/[ ,|]+/).filter(Boolean).join("/");
}
