/**
 * Tokenizers read from GGUF metadata: SentencePiece-style (`llama`) and
 * byte-level BPE (`gpt2`, with every pre-tokenizer llama.cpp maps for the llama and qwen2
 * families).
 *
 * @example From a model file
 * ```ts ignore
 * import { openGguf } from "../gguf/reader.ts";
 * import { tokenizerFromMetadata } from "./mod.ts";
 * const file = await openGguf("model.gguf");
 * const tokenizer = tokenizerFromMetadata(file.metadata);
 * const ids = tokenizer.encode("Hello");
 * const decoder = tokenizer.streamDecoder({ stripLeadingSpace: true });
 * for (const id of ids) console.log(decoder.push(id));
 * ```
 *
 * @module
 */

export { tokenizerFromMetadata, vocabFromMetadata } from "./from_metadata.ts";
export { type EncodeOptions, Tokenizer } from "./tokenizer.ts";
export { type DecodeOptions, StreamDecoder } from "./stream_decoder.ts";
export {
  isTokenizerModel,
  type TokenizerModel,
  type TokenizerVocab,
  TokenType,
  type TokenTypeValue,
} from "./vocab.ts";
export { PRE_TOKENIZER_NAMES, type PreTokenizerKind } from "./pre_tokenizer.ts";
