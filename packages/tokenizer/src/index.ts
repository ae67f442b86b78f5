/** @module The Qwen3 tokenizer and chat template: token ids and counts, renderings, assistant loss masks. */
export {
  type ChatPart,
  type ChatTemplateOptions,
  pythonJsonDumps,
  type RenderedChat,
  renderQwen3Chat,
  type TextSpan,
} from "./chat-template";
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
