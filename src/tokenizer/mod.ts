/**
 * Tokenizers read from GGUF metadata: SentencePiece-style (`llama`) and
 * byte-level BPE (`gpt2`, with every pre-tokenizer llama.cpp maps for the llama and qwen2
 * families).
 *
 * `tokenizerFromMetadata(openGguf(path).metadata)` gives a model's tokenizer
 * (its example shows one built from metadata in memory).
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
