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
 * @example Tokenizing with a model file
 * ```ts ignore
 * import { openGguf } from "../gguf/reader.ts";
 * import { tokenizerFromMetadata } from "./from_metadata.ts";
 * const file = await openGguf("stories260K.gguf");
 * const tokenizer = tokenizerFromMetadata(file.metadata);
 * file.close();
 * console.log(tokenizer.encode("Once upon a time")); // [1, 403, 407, 261, 378]
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
