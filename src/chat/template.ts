/**
 * Renders a chat template (`tokenizer.chat_template`, Jinja) the way Hugging
 * Face transformers does: `trim_blocks` and `lstrip_blocks` on,
 * `raise_exception()`, `strftime_now()` at a fixed date, `bos_token` and
 * `eos_token`. The engine is `@huggingface/jinja`, made for chat templates.
 *
 * @module
 */

import { Environment, Interpreter, Template } from "@huggingface/jinja";
import { UsageError } from "../errors.ts";
import type { ChatMessage } from "./messages.ts";

/** What a template is rendered with besides the messages. */
export interface ChatRenderOptions {
  /** End with the start of an assistant turn (`add_generation_prompt`). */
  readonly addGenerationPrompt: boolean;
  /** The model's BOS text (`bos_token`); empty when it has none. */
  readonly bosToken: string;
  /** The model's EOS text (`eos_token`); empty when it has none. */
  readonly eosToken: string;
  /** The date `strftime_now` formats. */
  readonly date: Date;
}

/**
 * A Jinja chat template, parsed once.
 *
 * @example Rendering a ChatML template
 * ```ts
 * import assert from "node:assert/strict";
 * import { JinjaChatTemplate } from "./template.ts";
 * const template = new JinjaChatTemplate(
 *   "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}",
 * );
 * const text = template.render([{ role: "user", content: "Hi" }], {
 *   addGenerationPrompt: false, bosToken: "", eosToken: "", date: new Date(0),
 * });
 * assert.ok(text === "<|im_start|>user\nHi<|im_end|>\n");
 * ```
 */
export class JinjaChatTemplate {
  /** The template's source text. */
  readonly source: string;
  readonly #template: Template;

  /**
   * @param source the Jinja source
   * @param origin where it came from, for messages
   * @throws {UsageError} if the template does not parse
   */
  constructor(source: string, origin = "the chat template") {
    this.source = source;
    try {
      this.#template = new Template(source);
    } catch (e) {
      throw new UsageError(`Cannot parse ${origin}: ${oneLine(e)}`);
    }
  }

  /**
   * Renders the conversation.
   *
   * @throws {UsageError} with the template's own message when it raises an error
   */
  render(messages: readonly ChatMessage[], options: ChatRenderOptions): string {
    try {
      const env = globals(options.date);
      env.set("messages", messages.map((m) => ({ role: m.role, content: m.content })));
      env.set("add_generation_prompt", options.addGenerationPrompt);
      env.set("bos_token", options.bosToken);
      env.set("eos_token", options.eosToken);
      return new Interpreter(env).run(this.#template.parsed).value as string;
    } catch (e) {
      throw new UsageError(`Cannot render the chat template: ${oneLine(e)}`);
    }
  }
}

/**
 * The globals transformers gives a template (the engine's own set, with
 * `strftime_now` at `date` instead of the clock).
 */
function globals(date: Date): Environment {
  const env = new Environment();
  for (const [name, value] of [["false", false], ["true", true], ["none", null]] as const) {
    env.set(name, value);
    env.set(name[0]!.toUpperCase() + name.slice(1), value);
  }
  env.set("raise_exception", (message: string) => {
    throw new Error(message);
  });
  env.set("range", pythonRange);
  env.set("strftime_now", (format: string) => strftime(format, date));
  // jinja2 loops over an undefined variable as over an empty list; templates do
  // so with `tools` and `documents`, which a plain chat leaves undefined. This
  // engine rejects such loops, so those two are an empty list that tests as undefined.
  const ArrayValue = env.set("__empty", []).constructor as new (items: unknown[]) => object;
  env.variables.delete("__empty");
  for (const name of ["tools", "documents"]) {
    const undefinedList = Object.assign(new ArrayValue([]), { type: "UndefinedValue" });
    env.variables.set(name, undefinedList as never);
  }
  return env;
}

/** Python's `range(stop)` / `range(start, stop[, step])`. */
function pythonRange(start: number, stop?: number, step = 1): number[] {
  if (stop === undefined) [start, stop] = [0, start];
  if (step === 0) throw new Error("range() arg 3 must not be zero");
  const out: number[] = [];
  for (let i = start; step > 0 ? i < stop : i > stop; i += step) out.push(i);
  return out;
}

function oneLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, " ");
}

const MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];
const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/**
 * Python's `strftime` for the directives chat templates use (`%d %m %Y %y %B
 * %b %A %a %H %M %S %j %%`), in UTC; other directives are kept as written.
 */
export function strftime(format: string, date: Date): string {
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  const start = Date.UTC(date.getUTCFullYear(), 0, 1);
  const values: Record<string, string> = {
    d: pad(date.getUTCDate()),
    m: pad(date.getUTCMonth() + 1),
    Y: String(date.getUTCFullYear()),
    y: pad(date.getUTCFullYear() % 100),
    B: MONTHS[date.getUTCMonth()]!,
    b: MONTHS[date.getUTCMonth()]!.slice(0, 3),
    A: DAYS[date.getUTCDay()]!,
    a: DAYS[date.getUTCDay()]!.slice(0, 3),
    H: pad(date.getUTCHours()),
    M: pad(date.getUTCMinutes()),
    S: pad(date.getUTCSeconds()),
    j: pad(Math.floor((date.getTime() - start) / 86_400_000) + 1, 3),
    "%": "%",
  };
  return format.replace(/%([a-zA-Z%])/g, (all, d: string) => values[d] ?? all);
}
