/**
 * Pre-tokenizers of byte-level BPE vocabularies: the regular expressions that
 * cut text into words before merging, selected by `tokenizer.ggml.pre` the
 * way llama.cpp selects them. Each expression splits every current chunk into
 * its matches and the text between them (which is kept), in order; chunk ends
 * act as text ends for lookaheads and `$`.
 *
 * Whitespace follows llama.cpp: its set is ASCII whitespace plus U+0085,
 * U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F and U+3000,
 * and the expressions see every non-ASCII whitespace character as U+000B (so a
 * literal U+3000 in a character class never matches, as in llama.cpp). `\s`
 * in the expressions below means that set, not JavaScript's.
 *
 * @module
 */

import { UnsupportedError } from "../errors.ts";

/** The pre-tokenizer families implemented: each is one chain of expressions. */
export type PreTokenizerKind =
  | "default"
  | "gpt2"
  | "llama3"
  | "qwen2"
  | "deepseek-llm"
  | "deepseek-coder"
  | "deepseek3"
  | "falcon"
  | "starcoder"
  | "viking"
  | "tekken"
  | "gpt4o";

/** How a `tokenizer.ggml.pre` name tokenizes. */
export interface PreTokenizerSpec {
  /** The expression chain. */
  readonly kind: PreTokenizerKind;
  /** A word that is itself a token is taken whole, without merging (llama.cpp's `ignore_merges`). */
  readonly ignoreMerges: boolean;
  /** BOS is added when the file does not say (`tokenizer.ggml.add_bos_token` absent). */
  readonly addBos: boolean;
}

const plain = (kind: PreTokenizerKind): PreTokenizerSpec => ({
  kind,
  ignoreMerges: false,
  addBos: false,
});
const wholeWords = (kind: PreTokenizerKind): PreTokenizerSpec => ({
  kind,
  ignoreMerges: true,
  addBos: true,
});

/** Names llama.cpp maps to each family, grouped by family. */
const NAMES_BY_SPEC: readonly (readonly [PreTokenizerSpec, readonly string[]])[] = [
  [plain("default"), ["default"]],
  [plain("gpt2"), [
    "gpt-2",
    "phi-2",
    "roberta-bpe",
    "mpt",
    "olmo",
    "jais",
    "jina-es",
    "jina-de",
    "jina-v1-en",
    "jina-v2-es",
    "jina-v2-de",
    "jina-v2-code",
    "gigachat",
    "exaone4",
    "trillion",
    "granite-docling",
    "a.x-4.0",
    "mellum",
  ]],
  [wholeWords("llama3"), [
    "llama3",
    "llama-v3",
    "llama-bpe",
    "falcon3",
    "falcon-h1",
    "pixtral",
    "midm-2.0",
    "lfm2",
  ]],
  // Same expression as Llama 3, but merged like any BPE and no BOS by default.
  [plain("llama3"), ["smaug-bpe", "dbrx"]],
  [plain("qwen2"), [
    "qwen2",
    "deepseek-r1-qwen",
    "stablelm2",
    "kormo",
    "megrez",
    "hunyuan",
  ]],
  [plain("deepseek-llm"), ["deepseek-llm"]],
  [plain("deepseek-coder"), ["deepseek-coder"]],
  [plain("deepseek3"), ["deepseek-v3", "hunyuan-dense"]],
  [plain("falcon"), ["falcon"]],
  [plain("starcoder"), [
    "starcoder",
    "refact",
    "smollm",
    "command-r",
    "codeshell",
    "exaone",
    "minerva-7b",
  ]],
  [plain("viking"), ["viking"]],
  [wholeWords("tekken"), ["tekken"]],
  [plain("gpt4o"), ["gpt-4o", "llama4", "minimax-m2"]],
];

/** `tokenizer.ggml.pre` names accepted, and how each tokenizes. */
export const PRE_TOKENIZERS: ReadonlyMap<string, PreTokenizerSpec> = new Map(
  NAMES_BY_SPEC.flatMap(([spec, names]) => names.map((name) => [name, spec] as const)),
);

/** `tokenizer.ggml.pre` names accepted, and the family each selects. */
export const PRE_TOKENIZER_NAMES: ReadonlyMap<string, PreTokenizerKind> = new Map(
  [...PRE_TOKENIZERS].map(([name, spec]) => [name, spec.kind]),
);

const GPT2 = String
  .raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`;
const CONTRACTIONS = String
  .raw`(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])`;

/** Llama 3 and Qwen 2 differ only in how many digits one word holds. */
const llama3Style = (digits: string) =>
  String.raw`${CONTRACTIONS}|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}${digits}` +
  String.raw`| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;

/** Tekken and GPT-4o: a word is an optional capitalised part then a lower-case part, or the reverse. */
const UPPER = String.raw`(?:(?=\p{L})[^a-z])`;
const LOWER = String.raw`(?:(?=\p{L})[^A-Z])`;
const casedWords = (suffix: string) =>
  String
    .raw`[^\r\n\p{L}\p{N}]?${UPPER}*${LOWER}+${suffix}|[^\r\n\p{L}\p{N}]?${UPPER}+${LOWER}*${suffix}`;

/** Letters of the scripts DeepSeek LLM keeps together (its tokenizer's own list of ranges). */
const DEEPSEEK_LETTERS =
  "A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚ" +
  "Ḁ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-\u1F7Dᾀ-ᾴᾶ-ᾼ\u1FBEῂ-ῄῆ-ῌῐ-\u1FD3ῖ-\u1FDBῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤ\u2126ℨ\u212A-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳ" +
  "Ꙁ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ\u{10400}-\u{1044F}\u{104B0}-\u{104D3}\u{104D8}-\u{104FB}" +
  "\u{10C80}-\u{10CB2}\u{10CC0}-\u{10CF2}\u{118A0}-\u{118DF}\u{1E900}-\u{1E943}";
const CJK = "一-龥ࠀ-一가-퟿";

/** The expression chains, in llama.cpp's order. */
const EXPRESSIONS: Readonly<Record<PreTokenizerKind, readonly string[]>> = {
  default: [
    String.raw`[\p{P}$+<=>^~|]+`,
    GPT2,
    String.raw`\p{N}+`,
    "[0-9][0-9][0-9]",
  ],
  gpt2: [GPT2],
  llama3: [llama3Style("{1,3}")],
  qwen2: [llama3Style("")],
  "deepseek-llm": [
    "[\r\n]",
    String.raw`\s?[${DEEPSEEK_LETTERS}]+`,
    String.raw`\s?[!-/:-~！-／：-～‘-‟　-。]+`,
    String.raw`\s+$`,
    `[${CJK}]+`,
    String.raw`\p{N}+`,
  ],
  "deepseek-coder": [
    "[\r\n]",
    String.raw`\s?\p{L}+`,
    String.raw`\s?\p{P}+`,
    `[${CJK}]+`,
    String.raw`\p{N}`,
  ],
  deepseek3: [
    String.raw`\p{N}{1,3}`,
    "[一-龥\u3040-ゟ゠-ヿ]+",
    String
      .raw`[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_${"`"}{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+` +
    String.raw`| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
  ],
  falcon: [String.raw`[\p{P}$+<=>^~|${"`"}]+`, GPT2, "[0-9][0-9][0-9]"],
  starcoder: [String.raw`\p{N}`, GPT2],
  viking: [String.raw` ?[^(\s|.,!?…。，、।۔،)]+`, String.raw`\p{N}`],
  tekken: [
    casedWords("") +
    String.raw`|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
  ],
  gpt4o: [
    casedWords(`${CONTRACTIONS}?`) +
    String.raw`|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
  ],
};

const ASCII_WS = String.raw`\t\n\v\f\r `;

/**
 * Compiles an expression written with llama.cpp's `\s`/`\S` (ASCII whitespace,
 * since other whitespace is seen as U+000B) into a JavaScript expression.
 */
function compile(source: string): RegExp {
  let out = "";
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === "\\") {
      const next = source[i + 1];
      i++;
      if (next === "s") out += inClass ? ASCII_WS : `[${ASCII_WS}]`;
      else if (next === "S" && !inClass) out += `[^${ASCII_WS}]`;
      else out += c + next;
      continue;
    }
    if (c === "[") inClass = true;
    else if (c === "]") inClass = false;
    out += c;
  }
  return new RegExp(out, "gu");
}

const REGEXES = new Map<PreTokenizerKind, readonly RegExp[]>();

function regexes(kind: PreTokenizerKind): readonly RegExp[] {
  let compiled = REGEXES.get(kind);
  if (!compiled) REGEXES.set(kind, compiled = EXPRESSIONS[kind].map(compile));
  return compiled;
}

/** Non-ASCII whitespace in llama.cpp's set: what its expressions see as U+000B. */
const OTHER_WS = /[\x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]/g;

/**
 * How a `tokenizer.ggml.pre` value tokenizes.
 *
 * @example Llama 3's names
 * ```ts
 * import assert from "node:assert/strict";
 * import { preTokenizerSpec } from "./pre_tokenizer.ts";
 * assert.ok(preTokenizerSpec("llama-bpe").ignoreMerges);
 * assert.ok(!preTokenizerSpec("smaug-bpe").ignoreMerges);
 * assert.ok(preTokenizerSpec(undefined).kind === "default");
 * ```
 *
 * @param name the value, or undefined when the key is absent (llama.cpp then uses `default`)
 * @returns the family and its flags
 * @throws {UnsupportedError} for a name not in {@linkcode PRE_TOKENIZERS}
 */
export function preTokenizerSpec(name: string | undefined): PreTokenizerSpec {
  if (name === undefined || name === "") return PRE_TOKENIZERS.get("default")!;
  const spec = PRE_TOKENIZERS.get(name);
  if (spec === undefined) {
    const known = [...PRE_TOKENIZERS.keys()].map((k) => `"${k}"`).join(", ");
    throw new UnsupportedError(
      `Cannot build tokenizer: pre-tokenizer "${name}" (tokenizer.ggml.pre) is not supported (supported: ${known})`,
    );
  }
  return spec;
}

/**
 * The pre-tokenizer family for a `tokenizer.ggml.pre` value.
 *
 * @example Qwen's names
 * ```ts
 * import assert from "node:assert/strict";
 * import { preTokenizerKind } from "./pre_tokenizer.ts";
 * assert.ok(preTokenizerKind("deepseek-r1-qwen") === "qwen2");
 * ```
 *
 * @param name the value, or undefined when the key is absent
 * @returns the family
 * @throws {UnsupportedError} for a name not in {@linkcode PRE_TOKENIZERS}
 */
export function preTokenizerKind(name: string | undefined): PreTokenizerKind {
  return preTokenizerSpec(name).kind;
}

/**
 * Splits `text` into the words BPE merges within.
 *
 * @example Llama 3 keeps at most three digits together
 * ```ts
 * import assert from "node:assert/strict";
 * import { preTokenize } from "./pre_tokenizer.ts";
 * assert.ok(preTokenize("x 12345", "llama3").join("|") === "x| |123|45");
 * ```
 *
 * @param text the text (no special tokens)
 * @param kind the pre-tokenizer family
 * @returns the words, in order; they concatenate to `text`
 */
export function preTokenize(text: string, kind: PreTokenizerKind): string[] {
  // Matching runs on a copy of the same length with other whitespace as U+000B.
  if (text === "") return [];
  const seen = text.replace(OTHER_WS, "\v");
  let bounds = [0, text.length];
  for (const regex of regexes(kind)) bounds = splitChunks(seen, bounds, regex);
  const words: string[] = [];
  for (let i = 1; i < bounds.length; i++) {
    words.push(text.slice(bounds[i - 1], bounds[i]));
  }
  return words;
}

/**
 * Splits each chunk (between consecutive `bounds`) into matches of `regex` and
 * the non-empty text between them.
 */
function splitChunks(
  text: string,
  bounds: readonly number[],
  regex: RegExp,
): number[] {
  const out = [bounds[0]!];
  for (let i = 1; i < bounds.length; i++) {
    const start = bounds[i - 1]!;
    const end = bounds[i]!;
    const chunk = text.slice(start, end);
    regex.lastIndex = 0;
    for (let m = regex.exec(chunk); m !== null; m = regex.exec(chunk)) {
      if (m[0].length === 0) {
        regex.lastIndex++;
        continue;
      }
      if (m.index > 0 && out.at(-1) !== start + m.index) {
        out.push(start + m.index);
      }
      out.push(start + m.index + m[0].length);
    }
    if (out.at(-1) !== end) out.push(end);
  }
  return out;
}
