/**
 * `d2o compress-inspect`: what a KV policy did to a prompt (and to the tokens
 * generated after it), layer by layer and token by token — in the terminal,
 * as JSON (`--json`, schema in docs/json-output.md) or as one self-contained HTML page
 * (`--html FILE`).
 *
 * @module
 */

import { Command } from "commander";
import { UsageError } from "../errors.ts";
import { kvRepeat } from "../model/repeat_kv.ts";
import { collectInspect } from "../inspect/collect.ts";
import { INSPECT_HTML_GENERATOR, renderInspectHtml } from "../inspect/render_html.ts";
import { renderInspectText } from "../inspect/render_text.ts";
import { parseLayerList, resolveKvOptions } from "../kv/options.ts";
import { DEFAULT_KV_POLICY } from "../kv/registry.ts";
import { stdoutIsTerminal, writeStdout } from "./io.ts";
import {
  addKvTuningFlags,
  askedKvTypes,
  kvInput,
  kvPolicyHelp,
  type KvTuningFlags,
} from "./kv_flags.ts";
import { integerIn } from "./options.ts";
import { openForPrompt } from "./open_session.ts";
import { checkOutputPath, writeOutputFile } from "./output_file.ts";
import { checkpointed, watchInterrupt } from "./interrupt.ts";
import { createProgress } from "./progress.ts";
import { readPrompt } from "./prompt_input.ts";

interface InspectOptions extends KvTuningFlags {
  model: string;
  file?: string;
  generate: number;
  batch: number;
  kv: string;
  kvBudget: string;
  ctx?: number;
  json?: boolean;
  html?: string;
  force?: boolean;
  layers?: string;
  heads?: string;
  width?: number;
  color?: boolean;
}

/** Builds the `compress-inspect` subcommand. */
export function compressInspectCommand(): Command {
  const command = new Command("compress-inspect")
    .description(
      "show what a KV policy keeps, merges and evicts, layer by layer and token by token",
    )
    .argument("[prompt]", "prompt text; - (or no prompt with piped stdin) reads stdin")
    .requiredOption("-m, --model <path>", "path to a .gguf model")
    .option("-f, --file <path>", "read the prompt from a file")
    .option("--generate <n>", "greedy tokens to generate after the prompt", integerIn(0), 0)
    .option("-b, --batch <n>", "prompt tokens per prefill chunk", integerIn(1, 4096), 128)
    .option("--kv <policy>", kvPolicyHelp(), DEFAULT_KV_POLICY)
    .option(
      "--kv-budget <x>",
      "KV budget per layer: a fraction of the prompt (0 < x ≤ 1) or a token count (> 1)",
      "0.2",
    )
    .option(
      "-c, --ctx <n>",
      "context size in tokens (default: the model's, at most 4096)",
      integerIn(2),
    )
    .option("--json", "print the raw report as one JSON object (schema in docs/json-output.md)")
    .option("--html <file>", "also write one self-contained HTML page with the heatmap and charts")
    .option("--force", "let --html replace an existing file that is not a page of ours")
    .option("--layers <list>", "layers to show token by token, e.g. 0,3 (default: all)")
    .option("--heads <list>", "KV heads to show token by token, e.g. 0 (default: all)")
    .option("--width <n>", "text width of the token view", integerIn(20, 1000))
    .option("--no-color", "no colours; mark merged {tokens} and evicted [tokens] instead");
  return addKvTuningFlags(command).action(
    async (prompt: string | undefined, options: InspectOptions) => {
      await runInspect(prompt, options);
    },
  );
}

async function runInspect(promptArg: string | undefined, o: InspectOptions): Promise<void> {
  const text = await readPrompt({ text: promptArg, file: o.file });
  const kv = resolveKvOptions(kvInput(o.kv, o.kvBudget, o));
  const kvTypes = askedKvTypes(o);
  if (kv.compressAt === "first-decode") {
    throw new UsageError(
      "Cannot inspect --compress-at first-decode (set by --parity): compress-inspect reports the " +
        "compression at the end of the prompt; add --compress-at prefill",
    );
  }
  const layers = o.layers === undefined ? undefined : parseSelection("--layers", o.layers);
  const heads = o.heads === undefined ? undefined : parseSelection("--heads", o.heads);
  if (o.html !== undefined) {
    await checkOutputPath(o.html, {
      flag: "--html",
      inputs: { "the model": o.model, "the prompt file": o.file },
      isOurs: (head) =>
        head.includes(`<meta name="generator" content="${INSPECT_HTML_GENERATOR}">`),
      force: o.force ?? false,
    });
  }
  const { session, prompt } = await openForPrompt(o.model, text, {
    nCtx: o.ctx,
    maxBatch: o.batch,
    kv,
    kvTypes,
    recordFates: true,
    validate(hp) {
      // --select-per query-head caches (and reports) n_head heads.
      const cacheHeads = hp.nHeadKv * kvRepeat(hp, kv.selectPer);
      const bounds = [["--layers", layers, hp.nLayer], ["--heads", heads, cacheHeads]] as const;
      for (const [flag, list, n] of bounds) {
        const bad = list?.find((i) => i >= n);
        if (bad !== undefined) {
          throw new UsageError(`Cannot show ${flag} ${bad}: the model has ${n}`);
        }
      }
    },
  });
  using interrupt = watchInterrupt();
  try {
    const promptBar = createProgress("prompt", Deno.stderr, { lines: true, unit: "tokens" });
    const progress = createProgress("generating", Deno.stderr, { lines: true });
    const report = await collectInspect(session, {
      file: o.model,
      prompt,
      generate: o.generate,
      onPromptProgress: checkpointed(promptBar.update, interrupt, "prompt tokens"),
      onStep: checkpointed(progress.update, interrupt, "generated tokens"),
    }).finally(() => {
      promptBar.done();
      progress.done();
    });
    interrupt.throwIfInterrupted("before writing the report");
    if (o.html !== undefined) await writeOutputFile(o.html, renderInspectHtml(report), "--html");
    if (o.json) {
      await writeStdout(JSON.stringify(report) + "\n");
    } else {
      await writeStdout(
        renderInspectText(report, {
          color: o.color !== false && stdoutIsTerminal() && !Deno.env.get("NO_COLOR"),
          ...(o.width ? { width: o.width } : {}),
          ...(layers ? { layers } : {}),
          ...(heads ? { heads } : {}),
        }),
      );
    }
  } finally {
    session.close();
  }
}

function parseSelection(flag: string, value: string): number[] {
  try {
    return parseLayerList(value);
  } catch {
    throw new UsageError(`Cannot use ${flag} "${value}": expected indices like 0,2,3`);
  }
}
