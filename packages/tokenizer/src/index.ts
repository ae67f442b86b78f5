/**
 * @module Tokenizers and chat templates: any model's byte-level BPE tokenizer.json (loadTokenizer) and its own
 * Jinja chat template with its assistant spans, end-of-turn token and generation prompt (ModelChatTemplate), and the
 * Qwen3 tokenizer with its hand-written chat template (token ids and counts, renderings, assistant loss masks).
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
  type GenerationConfig,
  type ModelChatOptions,
  ModelChatTemplate,
  reasoningToField,
  type SpanTokenizer,
  type TemplatedChat,
  type TemplatedTokenizer,
  type TokenizerConfig,
  withChatTemplate,
} from "./model-template";
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
