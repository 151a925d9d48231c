/**
 * The `d2o` command tree: subcommands, global flags, and the one place that
 * turns errors into one line on stderr and an exit code.
 *
 * @module
 */

import { Command, CommanderError } from "commander";
import { llamaFlagsHelp, rewriteLlamaFlags } from "./llama_flags.ts";
import { usageLine } from "./usage_line.ts";
import { compressInspectCommand } from "./compress_inspect.ts";
import { generateCommand } from "./generate.ts";
import { infoCommand } from "./info.ts";
import { profileCommand } from "./profile.ts";
import { tokenizeCommand } from "./tokenize.ts";
import { reportError } from "./report_error.ts";
import { ExitCode } from "../errors.ts";
import { StdoutClosed } from "./io.ts";

/** Version printed by `d2o --version`. */
export const VERSION = "0.1.0";

/**
 * Builds the `d2o` command tree.
 *
 * @returns the root command, configured to throw instead of exiting
 */
export function buildProgram(): Command {
  const program = new Command("d2o")
    .description(
      "Run LLaMA-family GGUF models on WebGPU, with a D2O-compressed KV cache",
    )
    .version(VERSION, "-V, --version", "print the version")
    .option("--debug", "print stack traces for errors")
    .exitOverride()
    .configureOutput(OUTPUT);
  program.addCommand(generateCommand());
  program.addCommand(compressInspectCommand());
  program.addCommand(infoCommand());
  program.addCommand(tokenizeCommand());
  program.addCommand(profileCommand());
  for (const sub of program.commands) {
    sub.exitOverride().configureOutput(OUTPUT);
    if (sub.name() !== "info") sub.addHelpText("after", llamaFlagsHelp(sub));
  }
  return program;
}

/** Help to stdout; parse errors are not printed by commander but by {@linkcode runCli}, as one line. */
const OUTPUT = {
  writeOut: (s: string) => writeSync(Deno.stdout, s),
  writeErr: (s: string) => writeSync(Deno.stderr, s),
  outputError: () => {},
};

/** The subcommand `args` run and where its arguments start, if any. */
function findSubcommand(program: Command, args: readonly string[]): [Command, number] | undefined {
  const at = args.findIndex((a) => !a.startsWith("-"));
  const sub = at < 0 ? undefined : program.commands.find((c) => c.name() === args[at]);
  return sub ? [sub, at + 1] : undefined;
}

/**
 * Runs the CLI on `args` and returns the process exit code; never throws.
 *
 * @param args command-line arguments without the program name
 */
export async function runCli(args: readonly string[]): Promise<number> {
  const program = buildProgram();
  const debug = args.includes("--debug");
  const sub = findSubcommand(program, args);
  try {
    const argv = sub
      ? [...args.slice(0, sub[1]), ...rewriteLlamaFlags(sub[0], args.slice(sub[1]))]
      : [...args];
    await program.parseAsync(argv, { from: "user" });
    return ExitCode.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit with code 0; a usage error is one line naming the flag.
      if (error.exitCode === 0) return ExitCode.ok;
      console.error(`d2o: ${usageLine(error, sub ? `d2o ${sub[0].name()}` : "d2o")}`);
      return ExitCode.usage;
    }
    // The reader of a pipe went away (`d2o ... | head`): end quietly.
    if (error instanceof StdoutClosed) return ExitCode.ok;
    return reportError(error, debug);
  }
}

function writeSync(file: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = new TextEncoder().encode(text);
  let off = 0;
  while (off < bytes.length) off += file.writeSync(bytes.subarray(off));
}
