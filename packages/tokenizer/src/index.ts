/**
 * @module The Qwen3 tokenizer and chat template (token ids and counts, renderings, assistant loss masks), and any
 * model's own Jinja chat template with its assistant spans, end-of-turn token and generation prompt.
 */
export {
  type ChatPart,
  type ChatTemplateOptions,
  pythonJsonDumps,
  type RenderedChat,
  renderQwen3Chat,
  type TextSpan,
} from "./chat-template";
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
