/**
 * The `d2o` command tree: subcommands, global flags, and the one place that
 * turns errors into one line on stderr and an exit code.
 *
 * @module
 */

import { Command, CommanderError } from "commander";
import { llamaFlagsHelp, rewriteLlamaFlags } from "./llama_flags.ts";
import { usageLine } from "./usage_line.ts";
import { reportError } from "./report_error.ts";
import { ExitCode, SIGNAL_EXIT_CODE } from "../errors.ts";
import { StdoutClosed, writeStdoutSync } from "./io.ts";
import { stopSignalReceived } from "./interrupt.ts";
import { VERSION, versionText } from "./version.ts";

/**
 * The subcommands in help order, each built from its module when asked for:
 * a run loads only the module of the subcommand it names (start-up time).
 */
const SUBCOMMANDS: ReadonlyArray<readonly [string, () => Promise<Command>]> = [
  ["generate", async () => (await import("./generate.ts")).generateCommand()],
  [
    "compress-inspect",
    async () => (await import("./compress_inspect.ts")).compressInspectCommand(),
  ],
  ["info", async () => (await import("./info.ts")).infoCommand()],
  ["tokenize", async () => (await import("./tokenize.ts")).tokenizeCommand()],
  ["profile", async () => (await import("./profile.ts")).profileCommand()],
];

/**
 * Builds the `d2o` command tree.
 *
 * @param only the one subcommand to build (default: all, for the root help and unknown names)
 * @returns the root command, configured to throw instead of exiting
 */
export async function buildProgram(only?: string): Promise<Command> {
  const program = new Command("d2o")
    .description(
      "Run LLaMA-family GGUF models on WebGPU, with a D2O-compressed KV cache",
    )
    // Listed in the help; answered by runCli before the tree is built (see versionAsked).
    .version(VERSION, "-V, --version", "print the version, the Deno runtime and the WebGPU adapter")
    .option("--debug", "print stack traces for errors")
    .exitOverride()
    .configureOutput(OUTPUT);
  const wanted = SUBCOMMANDS.filter(([name]) => only === undefined || name === only);
  for (const sub of await Promise.all(wanted.map(([, build]) => build()))) {
    program.addCommand(sub);
    sub.exitOverride().configureOutput(OUTPUT);
    if (sub.name() !== "info") sub.addHelpText("after", llamaFlagsHelp(sub));
  }
  return program;
}

/**
 * Help to stdout, with the exit codes of any output (a closed pipe ends
 * quietly, a full disk is exit 3); parse errors are not printed by commander
 * but by {@linkcode runCli}, as one line.
 */
const OUTPUT = {
  writeOut: writeStdoutSync,
  writeErr: writeStderrSync,
  outputError: () => {},
};

/** Where `args` name a subcommand (the first word that is not a flag), if they do. */
function subcommandAt(args: readonly string[]): number | undefined {
  const at = args.findIndex((a) => !a.startsWith("-"));
  return at >= 0 && SUBCOMMANDS.some(([name]) => name === args[at]) ? at : undefined;
}

/**
 * Runs the CLI on `args` and returns the process exit code; never throws.
 *
 * @param args command-line arguments without the program name
 */
export async function runCli(args: readonly string[]): Promise<number> {
  const debug = args.includes("--debug");
  const at = subcommandAt(args);
  const name = at === undefined ? undefined : args[at];
  try {
    if (versionAsked(at === undefined ? args : args.slice(0, at))) {
      writeStdoutSync(await versionText());
      return ExitCode.ok;
    }
    const program = await buildProgram(name);
    const sub = program.commands.find((c) => c.name() === name);
    const argv = sub && at !== undefined
      ? [...args.slice(0, at + 1), ...rewriteLlamaFlags(sub, args.slice(at + 1))]
      : [...args];
    await program.parseAsync(argv, { from: "user" });
    return ExitCode.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit with code 0; a usage error is one line naming the flag.
      if (error.exitCode === 0) return ExitCode.ok;
      console.error(`d2o: ${usageLine(error, name ? `d2o ${name}` : "d2o")}`);
      return ExitCode.usage;
    }
    // The reader of a pipe went away (`d2o ... | head`): end quietly.
    const code = error instanceof StdoutClosed ? ExitCode.ok : reportError(error, debug);
    // A run that fails after a stop signal (writing to the terminal that hung up) exits as the signal says.
    const signal = stopSignalReceived();
    return signal === undefined ? code : SIGNAL_EXIT_CODE[signal];
  }
}

/** Whether the flags before the subcommand ask for the version (`-V`, `--version`). */
function versionAsked(rootArgs: readonly string[]): boolean {
  return rootArgs.includes("-V") || rootArgs.includes("--version");
}

/** Writes to stderr; a stderr that cannot take it has no one to tell. */
function writeStderrSync(text: string): void {
  const bytes = new TextEncoder().encode(text);
  let off = 0;
  try {
    while (off < bytes.length) off += Deno.stderr.writeSync(bytes.subarray(off));
  } catch {
    // Nothing to do: this was the place to say it.
  }
}
