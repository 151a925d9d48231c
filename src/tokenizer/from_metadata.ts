/**
 * Builds a tokenizer from a GGUF file's `tokenizer.ggml.*` metadata.
 *
 * @module
 */

import { UnsupportedError } from "../errors.ts";
import { KV } from "../gguf/keys.ts";
import type { GgufMetadata } from "../gguf/metadata.ts";
import { Tokenizer } from "./tokenizer.ts";
import { isTokenizerModel, TOKENIZER_MODELS, type TokenizerVocab } from "./vocab.ts";

/**
 * Reads the vocabulary description from metadata. Special ids outside the
 * vocabulary (such as 0xFFFFFFFF for "none") are left to the tokenizer's
 * defaults, as llama.cpp does.
 *
 * @example A minimal vocabulary in metadata
 * ```ts
 * import assert from "node:assert/strict";
 * import { vocabFromMetadata } from "./from_metadata.ts";
 * import { GgufMetadata } from "../gguf/metadata.ts";
 * import { GgufValueType } from "../gguf/types.ts";
 * const meta = new GgufMetadata(new Map([
 *   ["tokenizer.ggml.model", { type: GgufValueType.STRING, value: "llama" }],
 *   ["tokenizer.ggml.tokens", {
 *     type: GgufValueType.ARRAY,
 *     value: { elementType: GgufValueType.STRING, values: ["<unk>", "<s>", "</s>"] },
 *   }],
 * ]));
 * assert.ok(vocabFromMetadata(meta).tokens.length === 3);
 * ```
 *
 * @param metadata the file's metadata
 * @returns the plain vocabulary
 * @throws {UnsupportedError} if the file has no tokenizer or one this tool does not implement
 * @throws {GgufFormatError} if a tokenizer key is missing or has the wrong type
 */
export function vocabFromMetadata(metadata: GgufMetadata): TokenizerVocab {
  const model = metadata.optionalString(KV.tokenizerModel);
  if (model === undefined) {
    throw new UnsupportedError(
      `Cannot build tokenizer: the file has no vocabulary (${KV.tokenizerModel} is missing)`,
    );
  }
  if (!isTokenizerModel(model)) {
    const known = TOKENIZER_MODELS.map((m) => `"${m}"`).join(", ");
    throw new UnsupportedError(
      `Cannot build tokenizer: tokenizer model "${model}" (${KV.tokenizerModel}) is not supported (supported: ${known})`,
    );
  }
  const id = (key: string) => metadata.optionalNumber(key);
  return {
    model,
    tokens: metadata.stringArray(KV.tokenizerTokens),
    scores: metadata.optionalNumberArray(KV.tokenizerScores),
    tokenTypes: metadata.optionalNumberArray(KV.tokenizerTokenType),
    merges: model === "gpt2" ? metadata.stringArray(KV.tokenizerMerges) : undefined,
    pre: metadata.optionalString(KV.tokenizerPre),
    bosId: id(KV.tokenizerBosId),
    eosId: id(KV.tokenizerEosId),
    unkId: id(KV.tokenizerUnkId),
    padId: id(KV.tokenizerPadId),
    eotId: id(KV.tokenizerEotId),
    eomId: id(KV.tokenizerEomId),
    addBos: metadata.optionalBool(KV.tokenizerAddBos),
    addEos: metadata.optionalBool(KV.tokenizerAddEos),
    addSpacePrefix: metadata.optionalBool(KV.tokenizerAddSpacePrefix),
    modelName: metadata.optionalString(KV.name),
  };
}

/**
 * Builds the tokenizer a GGUF file describes.
 *
 * @example A SentencePiece-style vocabulary (`openGguf(path).metadata` in practice)
 * ```ts
 * import assert from "node:assert/strict";
 * import { tokenizerFromMetadata } from "./from_metadata.ts";
 * import { GgufMetadata } from "../gguf/metadata.ts";
 * import { type GgufEntry, type GgufValue, GgufValueType } from "../gguf/types.ts";
 * const list = (elementType: GgufValueType, values: GgufValue[]): GgufEntry => ({
 *   type: GgufValueType.ARRAY,
 *   value: { elementType, values },
 * });
 * const tokens = ["<unk>", "<s>", "</s>", "▁", "h", "i", "▁h", "▁hi"];
 * const meta = new GgufMetadata(new Map<string, GgufEntry>([
 *   ["tokenizer.ggml.model", { type: GgufValueType.STRING, value: "llama" }],
 *   ["tokenizer.ggml.tokens", list(GgufValueType.STRING, tokens)],
 *   ["tokenizer.ggml.scores", list(GgufValueType.F32, [0, 0, 0, -1, -1, -1, -2, -3])],
 *   ["tokenizer.ggml.token_type", list(GgufValueType.I32, [2, 3, 3, 1, 1, 1, 1, 1])],
 * ]));
 * assert.deepEqual([...tokenizerFromMetadata(meta).encode("hi hi")], [1, 7, 7]); // <s> ▁hi ▁hi
 * ```
 *
 * @param metadata the file's metadata
 * @returns the tokenizer
 * @throws {UnsupportedError} for a tokenizer model or pre-tokenizer this tool does not implement
 * @throws {InputError} for an inconsistent vocabulary
 * @throws {GgufFormatError} if a tokenizer key is missing or has the wrong type
 */
export function tokenizerFromMetadata(metadata: GgufMetadata): Tokenizer {
  return new Tokenizer(vocabFromMetadata(metadata));
}
