/**
 * Opening a model for a prompt, shared by `generate` and `compress-inspect`:
 * the file and its tokenizer first, so the run's limits (the context, the
 * prompt, the kernels' slots: `run_limits.ts`) are checked before the
 * weights are uploaded and before any output; then the upload with a
 * progress bar.
 *
 * @module
 */

import { adapterLimits } from "../gpu/device.ts";
import type { KvTypes } from "../gpu/ops/kv_elem.ts";
import type { ModelHParams } from "../model/hparams.ts";
import { promptTokens } from "../model/generation.ts";
import { openModel } from "../model/model_file.ts";
import { checkRunLimits } from "../model/run_limits.ts";
import { defaultContext, Session, type SessionOptions } from "../model/session.ts";
import { tokenizerFromMetadata } from "../tokenizer/mod.ts";
import { chooseKvTypes, type KvTypeChoice } from "./kv_flags.ts";
import { createProgress } from "./progress.ts";

/** How to open the session. */
export interface OpenForPromptOptions
  extends Omit<SessionOptions, "nCtx" | "onProgress" | "kvTypes"> {
  /** `-c/--ctx`; the model's default when absent. */
  readonly nCtx?: number | undefined;
  /** The KV cache types `-ctk`/`-ctv` ask for; the adapter's default for the rest (`chooseKvTypes`). */
  readonly kvTypes?: Partial<KvTypes>;
  /** Recognise special tokens written in the prompt. */
  readonly parseSpecial?: boolean;
  /** More checks of the command's flags against the model, before the upload. */
  readonly validate?: (hp: ModelHParams) => void;
}

/** A session and its tokenized prompt. */
export interface PromptSession {
  /** The loaded session (the caller closes it). */
  readonly session: Session;
  /** The prompt's token ids (BOS included; BOS alone for an empty prompt). */
  readonly prompt: number[];
  /** The KV cache types the session runs with, and why. */
  readonly kvTypes: KvTypeChoice;
}

/**
 * Opens `path`, tokenizes `text`, checks it fits the context and uploads the model.
 *
 * @param path the GGUF file
 * @param text the prompt
 * @param options context, KV policy, sampler, batch and extra checks
 * @throws {LimitError} when the context or the prompt cannot run (`checkRunLimits`)
 */
export async function openForPrompt(
  path: string,
  text: string,
  options: OpenForPromptOptions,
): Promise<PromptSession> {
  const model = await openModel(path);
  try {
    const { nCtx: ctx, parseSpecial, validate, kvTypes: asked, ...sessionOptions } = options;
    const tokenizer = tokenizerFromMetadata(model.gguf.metadata);
    const nCtx = ctx ?? defaultContext(model.hparams);
    const prompt = promptTokens(tokenizer, text, parseSpecial ?? false);
    validate?.(model.hparams);
    const adapter = await adapterLimits();
    const kvTypes = chooseKvTypes(asked ?? {}, adapter?.hasF16 ?? false);
    const limits = checkRunLimits({
      hparams: model.hparams,
      nCtx,
      kv: sessionOptions.kv,
      adapter,
      prompts: [{ length: prompt.length }],
      kvTypes: kvTypes.types,
    });
    const unfit = limits.prompts[0]!.error;
    if (unfit) throw unfit;
    if (limits.warning) console.error(limits.warning);
    const progress = createProgress("loading weights");
    const session = await Session.load(model, tokenizer, {
      ...sessionOptions,
      kvTypes: kvTypes.types,
      nCtx,
      onProgress: progress.update,
    }).finally(progress.done);
    return { session, prompt, kvTypes };
  } catch (error) {
    model.close();
    throw error;
  }
}
