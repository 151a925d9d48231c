/**
 * `d2o info MODEL.gguf`: what a model file holds — architecture, shapes,
 * tokenizer, parameter count and tensor types — as text or one JSON object.
 *
 * @module
 */

import { Command } from "commander";
import { openGguf } from "../gguf/reader.ts";
import { describeModel, formatModelInfo } from "../model/model_info.ts";
import { writeStdout } from "./io.ts";

/** Builds the `info` subcommand. */
export function infoCommand(): Command {
  return new Command("info")
    .description("print a GGUF model's architecture, shapes, tokenizer and tensor types")
    .argument("<model>", "path to a .gguf file")
    .option("--json", "print one JSON object")
    .action(async (model: string, options: { json?: boolean }) => {
      const file = await openGguf(model);
      try {
        const info = describeModel(file);
        await writeStdout(
          options.json ? JSON.stringify(info, null, 2) + "\n" : formatModelInfo(info),
        );
      } finally {
        file.close();
      }
    });
}
