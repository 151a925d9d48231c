/**
 * The tokenizer: text to token ids and back, for SentencePiece-style
 * (`llama`) and byte-level BPE (`gpt2`) vocabularies, with llama.cpp's rules
 * for BOS/EOS, the dummy space prefix, special tokens and byte fallback.
 *
 * @module
 */

import { InputError, UnsupportedError } from "../errors.ts";
import { byteLevelDecode, byteLevelEncode } from "./byte_level.ts";
import { type BpeIndex, encodeBpeWord } from "./bpe.ts";
import { displayBytes } from "./display.ts";
import { endOfGeneration } from "./end_of_generation.ts";
import {
  preTokenize,
  type PreTokenizerKind,
  type PreTokenizerSpec,
  preTokenizerSpec,
} from "./pre_tokenizer.ts";
import { partitionSpecial, type SpecialToken } from "./special_tokens.ts";
import { encodeSpm, type SpmIndex } from "./spm.ts";
import { type DecodeOptions, StreamDecoder } from "./stream_decoder.ts";
import { type TokenizerModel, type TokenizerVocab, TokenType } from "./vocab.ts";

/** Options of {@linkcode Tokenizer.encode}. */
export interface EncodeOptions {
  /** Put BOS first; default: the vocabulary's `addBos`. */
  readonly addBos?: boolean;
  /** Put EOS last; default: the vocabulary's `addEos`. */
  readonly addEos?: boolean;
  /** Recognise control tokens written in the text (`<s>`, `<|eot_id|>`); default false. */
  readonly parseSpecial?: boolean;
}

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);
const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;
/** Words cached by the BPE path before the cache is cleared. */
const WORD_CACHE_LIMIT = 1 << 16;

/**
 * Encodes and decodes text with one vocabulary. Build it from plain data, or
 * from a GGUF file's metadata with `tokenizerFromMetadata`.
 *
 * @example Encoding and decoding with a tiny SentencePiece-style vocabulary
 * ```ts
 * import assert from "node:assert/strict";
 * import { Tokenizer } from "./tokenizer.ts";
 * const tokenizer = new Tokenizer({
 *   model: "llama",
 *   tokens: ["<unk>", "<s>", "</s>", "▁", "h", "i", "▁h", "▁hi"],
 *   scores: [0, 0, 0, -1, -1, -1, -2, -3],
 *   tokenTypes: [2, 3, 3, 1, 1, 1, 1, 1],
 * });
 * const ids = tokenizer.encode("hi hi");
 * assert.ok(ids.join() === "1,7,7");
 * assert.ok(tokenizer.decode(ids, { stripLeadingSpace: true }) === "hi hi");
 * ```
 */
export class Tokenizer {
  /** The algorithm. */
  readonly model: TokenizerModel;
  /** The pre-tokenizer family (`gpt2` vocabularies only). */
  readonly preTokenizer: PreTokenizerKind | undefined;
  /** Beginning-of-sequence id, if the vocabulary has one. */
  readonly bosId: number | undefined;
  /** End-of-sequence id, if the vocabulary has one. */
  readonly eosId: number | undefined;
  /** Unknown-token id, if any. */
  readonly unkId: number | undefined;
  /** Padding id, if any. */
  readonly padId: number | undefined;
  /** End-of-turn id, if any. */
  readonly eotId: number | undefined;
  /** End-of-message id, if any. */
  readonly eomId: number | undefined;
  /** Every id that ends generation (llama.cpp's set: EOS, EOT, EOM and end-of-turn texts), ascending. */
  readonly endOfGenerationIds: readonly number[];
  /** Whether {@linkcode Tokenizer.encode} adds BOS by default. */
  readonly addBos: boolean;
  /** Whether {@linkcode Tokenizer.encode} adds EOS by default. */
  readonly addEos: boolean;
  /** Whether text gets a leading space before encoding (`llama` dummy prefix). */
  readonly addSpacePrefix: boolean;

  readonly #pre: PreTokenizerSpec | undefined;
  readonly #eog: ReadonlySet<number>;
  readonly #tokens: readonly string[];
  readonly #types: Uint8Array;
  readonly #ids = new Map<string, number>();
  readonly #specials: SpecialToken[];
  readonly #spm: SpmIndex | undefined;
  readonly #bpe: BpeIndex | undefined;
  readonly #wordCache = new Map<string, number[]>();
  readonly #pieces: (Uint8Array | undefined)[];

  /**
   * @param vocab the vocabulary and its flags
   * @throws {InputError} if the vocabulary is empty, an array's length differs from the
   *   token count, `gpt2` merges are missing, or BOS/EOS is required but absent
   * @throws {UnsupportedError} for an unknown pre-tokenizer name
   */
  constructor(vocab: TokenizerVocab) {
    const n = vocab.tokens.length;
    if (n === 0) {
      throw new InputError(
        "Cannot build tokenizer: the vocabulary has no tokens",
      );
    }
    checkLength("tokenizer.ggml.scores", vocab.scores, n);
    checkLength("tokenizer.ggml.token_type", vocab.tokenTypes, n);
    this.model = vocab.model;
    this.#tokens = vocab.tokens;
    this.#pieces = new Array(n);
    this.#types = new Uint8Array(n).fill(TokenType.normal);
    if (vocab.tokenTypes) {
      for (let i = 0; i < n; i++) {
        const type = vocab.tokenTypes[i]!;
        this.#types[i] = type >= 0 && type <= TokenType.byte ? type : TokenType.undefined;
      }
    }
    for (let i = 0; i < n; i++) this.#ids.set(vocab.tokens[i]!, i);

    const spm = vocab.model === "llama";
    const inRange = (id: number | undefined, fallback: number | undefined) =>
      id !== undefined && id >= 0 && id < n
        ? id
        : fallback !== undefined && fallback < n
        ? fallback
        : undefined;
    // llama.cpp's defaults when the file names no id (or one out of range).
    this.bosId = inRange(vocab.bosId, spm ? 1 : 11);
    this.eosId = inRange(vocab.eosId, spm ? 2 : 11);
    this.unkId = inRange(vocab.unkId, spm ? 0 : undefined);
    this.padId = inRange(vocab.padId, undefined);
    const eog = endOfGeneration(this.#ids, this.#types, {
      eosId: this.eosId,
      eotId: inRange(vocab.eotId, undefined),
      eomId: inRange(vocab.eomId, undefined),
    });
    this.eotId = eog.eotId;
    this.eomId = eog.eomId;
    this.endOfGenerationIds = eog.ids;
    this.#eog = new Set(eog.ids);

    this.#pre = spm ? undefined : preTokenizerSpec(vocab.pre);
    this.preTokenizer = this.#pre?.kind;
    this.addBos = vocab.addBos ?? (spm || this.#pre!.addBos);
    this.addEos = vocab.addEos ?? false;
    this.addSpacePrefix = spm && (vocab.addSpacePrefix ?? true);
    if (this.addBos && this.bosId === undefined) {
      throw new InputError(
        "Cannot build tokenizer: BOS is to be added but there is no BOS token",
      );
    }
    if (this.addEos && this.eosId === undefined) {
      throw new InputError(
        "Cannot build tokenizer: EOS is to be added but there is no EOS token",
      );
    }

    this.#specials = this.#collectSpecials(isPhi3(vocab.modelName));
    if (spm) {
      this.#spm = this.#spmIndex(vocab.scores);
    } else {
      if (!vocab.merges) {
        throw new InputError(
          "Cannot build tokenizer: a gpt2 vocabulary needs merges (tokenizer.ggml.merges)",
        );
      }
      this.#bpe = this.#bpeIndex(vocab.merges);
    }
  }

  /** Number of tokens in the vocabulary. */
  get size(): number {
    return this.#tokens.length;
  }

  /**
   * Text of a token as stored in the vocabulary (`▁` and byte-level characters included).
   *
   * @throws {RangeError} if `id` is not in the vocabulary
   */
  tokenText(id: number): string {
    this.#check(id);
    return this.#tokens[id]!;
  }

  /**
   * Type of a token (a {@linkcode TokenType} value).
   *
   * @throws {RangeError} if `id` is not in the vocabulary
   */
  tokenType(id: number): number {
    this.#check(id);
    return this.#types[id]!;
  }

  /** Whether generation should stop at `id` (any of {@linkcode Tokenizer.endOfGenerationIds}). */
  isEndOfGeneration(id: number): boolean {
    return this.#eog.has(id);
  }

  /**
   * Turns text into token ids exactly as llama.cpp's `llama_tokenize` does.
   *
   * @param text any text
   * @param options BOS/EOS and special-token parsing
   * @returns the ids
   * @throws {UnsupportedError} if a character needs byte fallback and the vocabulary has
   *   neither the byte token nor an unknown token
   */
  encode(text: string, options: EncodeOptions = {}): number[] {
    const out: number[] = [];
    if (options.addBos ?? this.addBos) {
      out.push(this.#required(this.bosId, "BOS"));
    }
    const fragments = partitionSpecial(
      text,
      this.#specials,
      options.parseSpecial ?? false,
    );
    if (this.#spm) {
      // The dummy prefix goes before text that starts the input or follows a special token.
      let afterSpecial = true;
      for (const fragment of fragments) {
        if (fragment.text === undefined) {
          out.push(fragment.id);
          afterSpecial = true;
          continue;
        }
        const prefixed = this.addSpacePrefix && afterSpecial ? " " + fragment.text : fragment.text;
        encodeSpm(prefixed.replaceAll(" ", "▁"), this.#spm, out);
        afterSpecial = false;
      }
    } else {
      for (const fragment of fragments) {
        if (fragment.text === undefined) out.push(fragment.id);
        else this.#encodeBpe(fragment.text, out);
      }
    }
    if (options.addEos ?? this.addEos) {
      out.push(this.#required(this.eosId, "EOS"));
    }
    return out;
  }

  /**
   * The bytes a token stands for, as llama.cpp's `token_to_piece` gives them:
   * `▁` becomes a space, byte tokens their byte, byte-level text its bytes;
   * control and unknown tokens give nothing unless `special`.
   *
   * @param id token id
   * @param options `special`: render control and unknown tokens as their text
   * @returns the bytes (do not modify)
   * @throws {RangeError} if `id` is not in the vocabulary
   */
  tokenBytes(
    id: number,
    options: { readonly special?: boolean } = {},
  ): Uint8Array {
    this.#check(id);
    const type = this.#types[id]!;
    if (type === TokenType.control || type === TokenType.unknown) {
      return options.special ? encoder.encode(this.#tokens[id]!) : EMPTY;
    }
    return this.#pieces[id] ??= this.#piece(id, type);
  }

  /**
   * Decodes ids to bytes (the concatenated {@linkcode Tokenizer.tokenBytes}).
   *
   * @param ids token ids
   * @param options special tokens and the dummy prefix
   * @returns the bytes
   * @throws {RangeError} if an id is not in the vocabulary
   */
  decodeBytes(ids: readonly number[], options: DecodeOptions = {}): Uint8Array {
    const special = options.special ?? false;
    let strip = (options.stripLeadingSpace ?? false) && this.addSpacePrefix;
    const parts: Uint8Array[] = [];
    let total = 0;
    for (const id of ids) {
      let bytes = this.tokenBytes(id, { special });
      if (strip && bytes.length > 0) {
        if (bytes[0] === 0x20) bytes = bytes.subarray(1);
        strip = false;
      }
      parts.push(bytes);
      total += bytes.length;
    }
    const out = new Uint8Array(total);
    let at = 0;
    for (const part of parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }

  /**
   * Decodes ids to text; bytes that do not form valid UTF-8 become U+FFFD.
   *
   * @param ids token ids
   * @param options special tokens and the dummy prefix
   * @returns the text
   * @throws {RangeError} if an id is not in the vocabulary
   */
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    return new TextDecoder("utf-8", { ignoreBOM: true }).decode(
      this.decodeBytes(ids, options),
    );
  }

  /**
   * A decoder for streaming output that never emits part of a character.
   *
   * @param options special tokens and the dummy prefix
   * @returns a fresh {@linkcode StreamDecoder}
   */
  streamDecoder(options: DecodeOptions = {}): StreamDecoder {
    return new StreamDecoder(this, options);
  }

  /**
   * A token as readable text: its bytes with special tokens rendered, and
   * bytes that are not a complete character shown as `<0xXX>`.
   *
   * @throws {RangeError} if `id` is not in the vocabulary
   */
  piece(id: number): string {
    return displayBytes(this.tokenBytes(id, { special: true }));
  }

  #piece(id: number, type: number): Uint8Array {
    const text = this.#tokens[id]!;
    switch (type) {
      case TokenType.userDefined:
        return encoder.encode(text);
      case TokenType.normal:
        return this.#spm ? encoder.encode(text.replaceAll("▁", " ")) : byteLevelDecode(text);
      case TokenType.byte: {
        const hex = this.#spm ? BYTE_TOKEN.exec(text)?.[1] : undefined;
        return hex === undefined ? EMPTY : Uint8Array.of(parseInt(hex, 16));
      }
      default:
        return EMPTY;
    }
  }

  #encodeBpe(text: string, out: number[]): void {
    const bpe = this.#bpe!;
    for (const word of preTokenize(text, this.preTokenizer!)) {
      let ids = this.#wordCache.get(word);
      if (ids === undefined) {
        ids = [];
        encodeBpeWord(byteLevelEncode(word), bpe, ids);
        if (this.#wordCache.size >= WORD_CACHE_LIMIT) this.#wordCache.clear();
        this.#wordCache.set(word, ids);
      }
      for (const id of ids) out.push(id);
    }
  }

  /**
   * Control, unknown and user-defined tokens, longest UTF-8 text first. For
   * Phi-3 (by name, as llama.cpp decides) they and `</s>` drop the whitespace
   * after them, except `<unk>`, `<s>` and `<|endoftext|>`.
   */
  #collectSpecials(phi3: boolean): SpecialToken[] {
    const specials: (SpecialToken & { bytes: number })[] = [];
    for (let id = 0; id < this.#tokens.length; id++) {
      const type = this.#types[id]!;
      if (
        type !== TokenType.control && type !== TokenType.unknown &&
        type !== TokenType.userDefined
      ) continue;
      const text = this.#tokens[id]!;
      specials.push({
        id,
        text,
        needsParseSpecial: type !== TokenType.userDefined,
        rstrip: phi3 && !PHI3_NO_RSTRIP.has(text),
        bytes: encoder.encode(text).length,
      });
    }
    return specials.sort((a, b) => b.bytes - a.bytes);
  }

  #spmIndex(scores: ArrayLike<number> | undefined): SpmIndex {
    const byteTokens = new Int32Array(256);
    for (let byte = 0; byte < 256; byte++) {
      const hex = byte.toString(16).toUpperCase().padStart(2, "0");
      // llama.cpp: the <0xXX> token, else the byte as a one-character token.
      byteTokens[byte] = this.#ids.get(`<0x${hex}>`) ??
        (byte < 0x80 ? this.#ids.get(String.fromCharCode(byte)) : undefined) ??
        this.unkId ?? -1;
    }
    // Adjacent code point pairs inside tokens, as left * 0x110000 + right.
    const pairs = new Set<number>();
    for (const token of this.#tokens) {
      let last = -1;
      for (const char of token) {
        const cp = char.codePointAt(0)!;
        if (last >= 0) pairs.add(last * 0x110000 + cp);
        last = cp;
      }
    }
    return {
      ids: this.#ids,
      score: (id) => scores?.[id] ?? 0,
      joins: (left, right) => pairs.has(left * 0x110000 + right),
      byteToken: (byte) => {
        const id = byteTokens[byte]!;
        if (id < 0) {
          throw new UnsupportedError(
            `Cannot encode byte 0x${
              byte.toString(16)
            }: the vocabulary has no byte token for it and no unknown token`,
          );
        }
        return id;
      },
    };
  }

  #bpeIndex(merges: readonly string[]): BpeIndex {
    const ranks = new Map<string, Map<string, number>>();
    merges.forEach((merge, rank) => {
      const space = merge.indexOf(" ", 1);
      if (space < 0) return;
      const left = merge.slice(0, space);
      const right = merge.slice(space + 1);
      let byLeft = ranks.get(left);
      if (!byLeft) ranks.set(left, byLeft = new Map());
      // The first occurrence of a pair keeps its rank, as in llama.cpp.
      if (!byLeft.has(right)) byLeft.set(right, rank);
    });
    return {
      ids: this.#ids,
      rank: (left, right) => ranks.get(left)?.get(right),
      ignoreMerges: this.#pre!.ignoreMerges,
    };
  }

  #required(id: number | undefined, name: string): number {
    if (id === undefined) {
      throw new InputError(
        `Cannot add ${name}: the vocabulary has no ${name} token`,
      );
    }
    return id;
  }

  #check(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.#tokens.length) {
      throw new RangeError(
        `Cannot look up token ${id}: the vocabulary has ${this.#tokens.length} tokens`,
      );
    }
  }
}

const PHI3_NO_RSTRIP = new Set(["<unk>", "<s>", "<|endoftext|>"]);

/** Whether llama.cpp treats the model as Phi-3 (its name, lower-cased, says so). */
function isPhi3(name: string | undefined): boolean {
  const lower = name?.toLowerCase() ?? "";
  return lower.includes("phi-3") || lower.includes("phi3");
}

function checkLength(
  key: string,
  values: ArrayLike<number> | undefined,
  n: number,
): void {
  if (values && values.length !== n) {
    throw new InputError(
      `Cannot build tokenizer: ${key} has ${values.length} entries for ${n} tokens`,
    );
  }
}
