/**
 * @module Tokenizers and the chat template: any model's byte-level BPE tokenizer.json (loadTokenizer), the
 * Qwen3 tokenizer with its chat template (token ids and counts, renderings, assistant loss masks).
 */
export { type TokenizerJson, translatePattern, UnsupportedTokenizerError } from "./bpe";
export {
  type ChatPart,
  type ChatTemplateOptions,
  pythonJsonDumps,
  type RenderedChat,
  renderQwen3Chat,
  type TextSpan,
} from "./chat-template";
export {
  BpeTokenizer,
  defaultTokenizerSource,
  loadTokenizer,
  type Tokenizer,
  type TokenizerSource,
} from "./load";
export {
  type ChatMessage,
  type ChatRoleCounts,
  type EncodedChat,
  loadQwen3Tokenizer,
  QWEN3_TOKENIZER_ID,
  Qwen3Tokenizer,
  qwen3TokenizerDir,
  type ToolDefinition,
} from "./tokenizer";
