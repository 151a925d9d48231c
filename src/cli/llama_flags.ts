/**
 * llama.cpp's spellings of our flags, rewritten before commander parses the
 * command line: aliases become our flag, flags that need nothing here (threads,
 * GPU layers) are dropped, and llama.cpp flags with no meaning in d2o get a
 * one-line hint instead of a confusing parse (`-ngl 99` is not `-n gl`).
 *
 * @module
 */

import type { Command } from "commander";
import { UsageError } from "../errors.ts";

/** llama.cpp flag → our flag (applied when the command has ours and not theirs). */
const ALIASES: Readonly<Record<string, string>> = {
  "--n-predict": "--max-tokens",
  "--predict": "--max-tokens",
  "--ctx-size": "--ctx",
  "--batch-size": "--batch",
  "-s": "--seed",
  "-np": "--parallel",
  "-ctk": "--cache-type-k",
  "-ctv": "--cache-type-v",
};

/** Flags accepted and ignored, each with its value (every layer runs on the one WebGPU adapter). */
const IGNORED: ReadonlySet<string> = new Set([
  "-t",
  "--threads",
  "-tb",
  "--threads-batch",
  "-ngl",
  "--gpu-layers",
  "--n-gpu-layers",
]);

/** llama.cpp flags with no meaning here, and why. */
const NO_MEANING: Readonly<Record<string, string>> = Object.fromEntries([
  ...["-cnv", "--conversation", "-i", "--interactive", "-if", "--interactive-first", "-mli"]
    .map((f) => [f, "d2o is not interactive: it runs one prompt and exits"]),
  ...["-fa", "--flash-attn"].map((f) => [f, "d2o runs its own attention kernels"]),
  ...["--mlock", "--no-mmap", "--mmap"].map((f) => [f, "d2o uploads the weights to the GPU once"]),
  ...["-ctk", "--cache-type-k", "-ctv", "--cache-type-v"]
    .map((f) => [f, "only generate, compress-inspect and profile keep a KV cache"]),
  ...["-sm", "--split-mode", "-ts", "--tensor-split", "-mg", "--main-gpu", "-dev", "--device"]
    .map((f) => [f, "d2o runs on one WebGPU adapter"]),
  ...["-hf", "-hfr", "--hf-repo", "-mu", "--model-url", "--lora", "--mmproj"]
    .map((f) => [f, "d2o runs one local .gguf file given with -m"]),
  ...["--grammar", "--grammar-file", "-j", "--json-schema"]
    .map((f) => [f, "d2o has no grammar-constrained sampling"]),
  ...["-np", "--parallel", "-cb", "--cont-batching"]
    .map((
      f,
    ) => [
      f,
      "only generate --prompts FILE decodes sequences together (-np N), always continuously",
    ]),
  ["--numa", "d2o runs on one WebGPU adapter"],
]);

/** What `--help` says about the llama.cpp spellings a command accepts. */
export function llamaFlagsHelp(command: Command): string {
  const aliases = Object.entries(ALIASES).filter(([from, to]) => applies(command, from, to))
    .map(([from, to]) => `${from} = ${to}`);
  if (takesPrompt(command)) aliases.unshift("-p/--prompt TEXT = the prompt argument");
  const ignored = "-t/--threads, -tb/--threads-batch and -ngl/--n-gpu-layers N are accepted and " +
    "ignored (every layer runs on the GPU)";
  return ["", "llama.cpp spellings:", ...wrap(aliases, ", "), ...wrap(ignored.split(" "), " ")]
    .join("\n");
}

/** `items` joined by `sep` in indented lines of at most 80 columns, never splitting an item. */
function wrap(items: readonly string[], sep: string): string[] {
  const lines: string[] = [];
  let line = "";
  for (const item of items) {
    if (line && line.length + sep.length + item.length > 78) {
      lines.push(`  ${line}${sep.trimEnd()}`);
      line = item;
    } else line = line ? `${line}${sep}${item}` : item;
  }
  if (line) lines.push(`  ${line}`);
  return lines;
}

/**
 * Rewrites a subcommand's arguments from llama.cpp spellings to ours.
 *
 * @param command the subcommand that will parse `args`
 * @param args its arguments (after the subcommand name)
 * @returns the arguments commander should parse
 * @throws {UsageError} for a llama.cpp flag with no meaning here
 */
export function rewriteLlamaFlags(command: Command, args: readonly string[]): string[] {
  const out: string[] = [];
  const prompts: string[] = [];
  const name = command.name();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      out.push(...args.slice(i));
      break;
    }
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    const takeValue = () => inline ?? args[++i];
    if (defines(command, flag)) {
      out.push(arg);
      // Our flag's value is passed as is, even when it looks like a llama.cpp flag.
      if (inline === undefined && takesValue(command, flag) && i + 1 < args.length) {
        out.push(args[++i]!);
      }
    } else if ((flag === "-p" || flag === "--prompt") && takesPrompt(command)) {
      const value = takeValue();
      if (value === undefined) {
        throw new UsageError(`Missing the value of ${flag}; see \`d2o ${name} --help\``);
      }
      prompts.push(value);
    } else if (IGNORED.has(flag)) takeValue();
    else if (ALIASES[flag] && applies(command, flag, ALIASES[flag])) {
      out.push(inline === undefined ? ALIASES[flag] : `${ALIASES[flag]}=${inline}`);
    } else if (NO_MEANING[flag]) {
      throw new UsageError(
        `${flag} is a llama.cpp flag with no meaning here: ${NO_MEANING[flag]}; ` +
          `see \`d2o ${name} --help\``,
      );
    } else out.push(arg);
  }
  if (prompts.length > 0) {
    const dash = out.indexOf("--");
    if (dash < 0) out.push("--", ...prompts);
    else out.splice(dash + 1, 0, ...prompts);
  }
  return out;
}

function defines(command: Command, flag: string): boolean {
  return command.options.some((o) => o.short === flag || o.long === flag);
}

function takesValue(command: Command, flag: string): boolean {
  return command.options.some((o) => (o.short === flag || o.long === flag) && o.required);
}

function applies(command: Command, from: string, to: string): boolean {
  return !defines(command, from) && defines(command, to);
}

function takesPrompt(command: Command): boolean {
  return command.registeredArguments.some((a) => a.name() === "prompt" || a.name() === "text") &&
    !defines(command, "-p") && !defines(command, "--prompt");
}
