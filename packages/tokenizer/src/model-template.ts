/**
 * @module A model's own chat template: the Jinja `chat_template` of its tokenizer_config.json (or its
 * chat_template.jinja), rendered with @huggingface/jinja the way Hugging Face transformers'
 * `apply_chat_template(..., tokenize=False)` renders it, plus what a trainer needs besides the text: where the
 * assistant turns lie (to train on them only), the end-of-turn token a sampler stops at, and the generation
 * prompt.
 *
 * Messages go to the template as the data carries them (OpenAI format: reasoning inline as `<think>…</think>`
 * in the content, tool-call arguments as JSON text unless `toolArguments: "object"`), with the variables
 * transformers passes: `messages`, `tools`, `documents`, `add_generation_prompt`, the tokenizer's named special
 * tokens (`bos_token`, `eos_token`, …), `enable_thinking` when set, and any extra `variables`.
 *
 * @huggingface/jinja differs from Python's Jinja in a few places chat templates reach; the template is
 * rewritten after parsing so that those render as in Python: `tojson` is Python's `json.dumps` (float repr,
 * `indent`, `separators`, `sort_keys`, `ensure_ascii`), and `strip`/`lstrip`/`rstrip` (methods) and `trim`
 * (filter) take their `chars` argument and Python's whitespace.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Template } from "@huggingface/jinja";
import type { ChatMessage } from "@sovereign/schemas";
import { type ChatTemplateOptions, pythonFloatRepr, type TextSpan } from "./chat-template";
import type { EncodedChat, Qwen3Tokenizer } from "./tokenizer";

/** The fields of a tokenizer_config.json this module reads; the rest is ignored. */
export type TokenizerConfig = {
  chat_template?: string | { name: string; template: string }[] | null;
  added_tokens_decoder?: Record<string, { content: string; special?: boolean }>;
  extra_special_tokens?: Record<string, unknown> | unknown[];
  [key: string]: unknown;
};

/** The fields of a generation_config.json this module reads. */
export type GenerationConfig = { eos_token_id?: number | number[] | null; [key: string]: unknown };

export type ModelChatOptions = ChatTemplateOptions & {
  /** More template variables, as keyword arguments of `apply_chat_template` (e.g. Llama 3.1's `date_string`). */
  variables?: Readonly<Record<string, unknown>>;
  /**
   * How tool-call arguments reach the template: `"string"` (default) as the JSON text the data carries, which
   * OpenAI-format templates (Qwen, DeepSeek) expect; `"object"` parsed, as templates written for the
   * transformers convention (`arguments | tojson`, e.g. Llama 3.1) expect.
   */
  toolArguments?: "string" | "object";
  /**
   * Where an assistant's reasoning reaches the template: `"inline"` (default) inside the content, as the data
   * carries it (`<think>…</think>` before the answer); `"reasoning_content"` moved to that field, as templates
   * that read it expect (see reasoningToField).
   */
  reasoning?: "inline" | "reasoning_content";
  /** Applied to every string of the messages and tools before rendering (the tokenizer passes NFC). */
  transform?: (text: string) => string;
};

export type TemplatedChat = {
  text: string;
  /**
   * The trained text of each assistant message in `text`, in order: from after the turn's header (the
   * generation prompt) through its end-of-turn token; whitespace the template writes after that token is
   * not trained on. From the template's `{% generation %}` blocks where it has them (then exactly their
   * output, as transformers' `return_assistant_tokens_mask`).
   */
  assistantSpans: TextSpan[];
  /** How the spans were found: the template's generation blocks, or renderings of each turn's prefix. */
  spansFrom: "generation" | "prefixes";
};

/** The named special tokens transformers passes to templates (its `special_tokens_map`). */
const SPECIAL_TOKEN_NAMES = [
  "bos_token",
  "eos_token",
  "unk_token",
  "sep_token",
  "pad_token",
  "cls_token",
  "mask_token",
] as const;

// Noncharacters: never in interchange text, so never in a sample.
const OPEN = "\uFDD0";
const CLOSE = "\uFDD1";
const GENERATION_TAG = /{%(-?)\s*(end)?generation\s*(-?)%}/g;

type Compiled = { plain: Template; marked: Template | undefined };

/** Text of a special-token entry of tokenizer_config.json: a string, or an AddedToken object. */
function tokenText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (value && typeof value === "object" && typeof (value as { content?: unknown }).content === "string") {
    return (value as { content: string }).content;
  }
  return undefined;
}

export class ModelChatTemplate {
  /** Named special tokens as the template sees them (`bos_token`, `eos_token`, …). */
  readonly specialTokens: Readonly<Record<string, string>>;
  /** Where the template came from, for error messages. */
  readonly source: string;
  /**
   * Names what the template renders: `chat-template@` and the first 12 hex digits of the SHA-256 of its
   * templates and special tokens. Part of a data plane cache key.
   */
  readonly id: string;
  private readonly templates: ReadonlyMap<string, string>;
  private readonly compiled = new Map<string, Compiled>();
  private readonly addedTokens: readonly string[];
  private readonly eosFromGenerationConfig: readonly string[];
  private endOfTurnCache: string | undefined;

  /**
   * @param config the parsed tokenizer_config.json
   * @param chatTemplate the content of chat_template.jinja, which transformers prefers to the config's
   * @param generationConfig the parsed generation_config.json, whose `eos_token_id`s become stop tokens
   */
  constructor(
    config: TokenizerConfig,
    options: { chatTemplate?: string; generationConfig?: GenerationConfig; source?: string } = {},
  ) {
    this.source = options.source ?? "tokenizer_config.json";
    const raw = options.chatTemplate ?? config.chat_template;
    const templates = new Map<string, string>();
    if (typeof raw === "string") templates.set("default", raw);
    else if (Array.isArray(raw)) {
      for (const entry of raw) {
        if (typeof entry?.name !== "string" || typeof entry.template !== "string") {
          throw new Error(`${this.source}: chat_template entries need a string "name" and "template"`);
        }
        templates.set(entry.name, entry.template);
      }
    }
    if (templates.size === 0) throw new Error(`${this.source} has no chat_template`);
    this.templates = templates;

    const special: Record<string, string> = {};
    for (const name of SPECIAL_TOKEN_NAMES) {
      const text = tokenText(config[name]);
      if (text !== undefined) special[name] = text;
    }
    if (config.extra_special_tokens && !Array.isArray(config.extra_special_tokens)) {
      for (const [name, value] of Object.entries(config.extra_special_tokens)) {
        const text = tokenText(value);
        if (text !== undefined) special[name] = text;
      }
    }
    this.specialTokens = special;
    const hash = createHash("sha256")
      .update(JSON.stringify([[...templates], special]))
      .digest("hex");
    this.id = `chat-template@${hash.slice(0, 12)}`;

    const byId = new Map<number, string>();
    for (const [id, token] of Object.entries(config.added_tokens_decoder ?? {})) {
      if (typeof token?.content === "string") byId.set(Number(id), token.content);
    }
    this.addedTokens = [...new Set([...byId.values(), ...Object.values(special)])].sort(
      (a, b) => b.length - a.length,
    );
    const eosIds = options.generationConfig?.eos_token_id;
    this.eosFromGenerationConfig = (Array.isArray(eosIds) ? eosIds : eosIds == null ? [] : [eosIds]).map(
      (id) => {
        const text = byId.get(id);
        if (text === undefined) {
          throw new Error(
            `generation_config.json eos_token_id ${id} is not an added token of ${this.source} (added_tokens_decoder)`,
          );
        }
        return text;
      },
    );
  }

  /**
   * Reads a model folder as transformers does: tokenizer_config.json, chat_template.jinja when present
   * (it overrides the config's template), and generation_config.json when present.
   */
  static async fromDir(dir: string): Promise<ModelChatTemplate> {
    const read = async (name: string) => {
      try {
        return await readFile(join(dir, name), "utf8");
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw error;
      }
    };
    const [config, jinja, generation] = await Promise.all(
      ["tokenizer_config.json", "chat_template.jinja", "generation_config.json"].map(read),
    );
    if (config === undefined) throw new Error(`${dir} has no tokenizer_config.json`);
    return new ModelChatTemplate(JSON.parse(config) as TokenizerConfig, {
      chatTemplate: jinja,
      generationConfig: generation === undefined ? undefined : (JSON.parse(generation) as GenerationConfig),
      source: join(dir, jinja === undefined ? "tokenizer_config.json" : "chat_template.jinja"),
    });
  }

  /** The template transformers picks: "tool_use" when tools are given and it exists, else "default". */
  templateName(tools: ModelChatOptions["tools"]): string {
    if (tools != null && this.templates.has("tool_use")) return "tool_use";
    if (this.templates.has("default")) return "default";
    throw new Error(
      `${this.source} has several chat templates and none named "default" (${[...this.templates.keys()].join(", ")})`,
    );
  }

  /** Whether the chosen template marks assistant text with `{% generation %}` blocks. */
  hasGenerationBlocks(tools?: ModelChatOptions["tools"]): boolean {
    return this.compile(this.templateName(tools)).marked !== undefined;
  }

  /** Exactly what `apply_chat_template(messages, tools=…, tokenize=False, …)` renders. */
  render(messages: readonly ChatMessage[], options: ModelChatOptions = {}): string {
    nonEmpty(messages);
    return this.run(messages, options, false);
  }

  /** The rendering with the spans of the assistant turns a trainer trains on. */
  renderWithSpans(messages: readonly ChatMessage[], options: ModelChatOptions = {}): TemplatedChat {
    nonEmpty(messages);
    if (this.hasGenerationBlocks(options.tools)) {
      return { ...spansFromMarkers(this.run(messages, options, true), this.source), spansFrom: "generation" };
    }
    const text = this.run(messages, options, false);
    const eot = this.endOfTurn();
    const assistantSpans: TextSpan[] = [];
    // A trained turn is the model's whole output, its think block included: the prefixes are rendered
    // without `enable_thinking`, whose empty think block (Qwen3) belongs to a sampler's prompt only.
    const prefixOptions: ModelChatOptions = { ...options, enableThinking: undefined };
    let cursor = 0;
    messages.forEach((message, i) => {
      if (message.role !== "assistant") return;
      const before = messages.slice(0, i);
      const prompt = this.run(before, { ...prefixOptions, addGenerationPrompt: true }, false);
      const withTurn = this.run(
        messages.slice(0, i + 1),
        { ...prefixOptions, addGenerationPrompt: false },
        false,
      );
      if (!withTurn.startsWith(prompt)) {
        throw new Error(
          `${this.source}: rendering messages[0..${i}] does not extend the rendering of messages[0..${i - 1}] ` +
            "with its generation prompt, so the assistant turn cannot be told apart; give the template " +
            "{% generation %} blocks",
        );
      }
      let start: number;
      if (text.startsWith(prompt) && prompt.length >= cursor) start = prompt.length;
      else {
        // The template renders earlier turns differently once later messages follow (Qwen3 drops the
        // reasoning of turns before the last user query): find this turn's header after the previous turn.
        const header = prompt.slice(
          this.run(before, { ...prefixOptions, addGenerationPrompt: false }, false).length,
        );
        const at = header ? text.indexOf(header, cursor) : -1;
        if (at < 0) {
          throw new Error(
            `${this.source}: cannot find the header of assistant message ${i} in the rendering`,
          );
        }
        start = at + header.length;
      }
      // The turn as rendered last, through its end-of-turn token.
      let turn = withTurn.slice(prompt.length);
      const close = turn.lastIndexOf(eot);
      turn = close >= 0 ? turn.slice(0, close + eot.length) : trimEndPython(turn);
      let end: number;
      if (text.startsWith(turn, start)) end = start + turn.length;
      else {
        const at = text.indexOf(eot, start);
        if (at < 0) {
          throw new Error(
            `${this.source}: assistant message ${i} has no end-of-turn ${eot} in the rendering`,
          );
        }
        end = at + eot.length;
      }
      assistantSpans.push({ start, end });
      cursor = end;
    });
    return { text, assistantSpans, spansFrom: "prefixes" };
  }

  /**
   * What `add_generation_prompt` appends after a conversation: the header a sampler's prompt ends with
   * (Qwen3: `<|im_start|>assistant\n`; with `enableThinking: false` also its empty think block).
   */
  generationPrompt(options: Omit<ModelChatOptions, "addGenerationPrompt"> = {}): string {
    const messages: ChatMessage[] = [{ role: "user", content: "Hello" }];
    const without = this.run(messages, { ...options, addGenerationPrompt: false }, false);
    const withPrompt = this.run(messages, { ...options, addGenerationPrompt: true }, false);
    if (!withPrompt.startsWith(without)) {
      throw new Error(`${this.source}: add_generation_prompt does not append to the rendering`);
    }
    return withPrompt.slice(without.length);
  }

  /**
   * The token that closes an assistant turn (Qwen3 `<|im_end|>`, Llama 3 `<|eot_id|>`, Gemma 3
   * `<end_of_turn>`): the added or special token the template writes right after an assistant's content.
   */
  endOfTurn(): string {
    if (this.endOfTurnCache !== undefined) return this.endOfTurnCache;
    const content = "Answer 7q9";
    const user: ChatMessage = { role: "user", content: "Hello" };
    const prompt = this.run([user], { addGenerationPrompt: true }, false);
    const text = this.run([user, { role: "assistant", content }], {}, false);
    const at = text.indexOf(content, prompt.length);
    if (at < 0)
      throw new Error(`${this.source}: an assistant message's content does not appear in its rendering`);
    const after = text.slice(at + content.length);
    let token = this.addedTokens.find((t) => t.length > 0 && after.startsWith(t));
    // Without a list of added tokens: what the template writes after the content, up to whitespace.
    token ??= trimStartPython(after).split(/\s/)[0];
    if (!token) throw new Error(`${this.source}: the template writes nothing after an assistant's content`);
    this.endOfTurnCache = token;
    return token;
  }

  /**
   * Texts of the tokens generation stops at: the end of turn, then generation_config.json's `eos_token_id`s
   * and the tokenizer's `eos_token`, without repeats.
   */
  stopTokens(): string[] {
    const eos = this.specialTokens.eos_token;
    return [...new Set([this.endOfTurn(), ...this.eosFromGenerationConfig, ...(eos ? [eos] : [])])];
  }

  private compile(name: string): Compiled {
    let compiled = this.compiled.get(name);
    if (compiled) return compiled;
    const source = this.templates.get(name) as string;
    const build = (text: string) => {
      const template = new Template(text);
      template.parsed = rewrite(template.parsed) as Template["parsed"];
      return template;
    };
    try {
      GENERATION_TAG.lastIndex = 0;
      const hasBlocks = GENERATION_TAG.test(source);
      // Each tag becomes a marker printed where the tag stands; the `if` keeps the tag's whitespace control.
      const marked = hasBlocks
        ? build(
            source.replace(
              GENERATION_TAG,
              (_, left: string, end: string | undefined, right: string) =>
                `{%${left} if true %}{{ '${end ? CLOSE : OPEN}' }}{% endif ${right}%}`,
            ),
          )
        : undefined;
      compiled = { plain: build(source), marked };
    } catch (error) {
      throw new Error(`${this.source}: chat template "${name}" does not parse: ${(error as Error).message}`);
    }
    this.compiled.set(name, compiled);
    return compiled;
  }

  private run(messages: readonly ChatMessage[], options: ModelChatOptions, marked: boolean): string {
    const name = this.templateName(options.tools);
    const compiled = this.compile(name);
    const template = marked ? compiled.marked : compiled.plain;
    const transform = options.transform;
    let data: unknown = messages;
    if (options.reasoning === "reasoning_content") data = messages.map(reasoningToField);
    if (options.toolArguments === "object") data = (data as ChatMessage[]).map(parseArguments);
    let tools: unknown = options.tools ?? null;
    if (transform) {
      data = mapStrings(data, transform);
      tools = mapStrings(tools, transform);
    }
    const variables: Record<string, unknown> = {
      ...this.specialTokens,
      ...options.variables,
      ...(options.enableThinking === undefined ? {} : { enable_thinking: options.enableThinking }),
      ...PYTHON_HELPERS,
      messages: data,
      tools,
      documents: null,
      add_generation_prompt: options.addGenerationPrompt ?? false,
    };
    try {
      return (template as Template).render(variables);
    } catch (error) {
      throw new Error(`${this.source}: chat template "${name}" failed: ${(error as Error).message}`);
    }
  }
}

/** What withChatTemplate needs of a tokenizer. */
export type SpanTokenizer = Pick<Qwen3Tokenizer, "id" | "encode" | "encodeWithSpans">;

/** A tokenizer whose chat encodings come from `template`, not the hand-written Qwen3 renderer. */
export type TemplatedTokenizer = Pick<Qwen3Tokenizer, "id" | "encode" | "encodeWithSpans"> & {
  encodeChat(messages: readonly ChatMessage[], options?: ChatTemplateOptions): EncodedChat;
  readonly chatTemplate: ModelChatTemplate;
};

/**
 * `tokenizer` with its chat encodings rendered by a model's own template: `encodeChat` renders with
 * `template.renderWithSpans` (message text in NFC, as the tokenizer normalizes it) and masks the tokens of the
 * assistant spans. Its id joins the tokenizer's and the template's, so caches keyed by it tell templates apart.
 */
export function withChatTemplate(tokenizer: SpanTokenizer, template: ModelChatTemplate): TemplatedTokenizer {
  const nfc = (text: string) => text.normalize("NFC");
  return {
    id: `${tokenizer.id}+${template.id}`,
    chatTemplate: template,
    encode: (text) => tokenizer.encode(text),
    encodeWithSpans: (text, spans) => tokenizer.encodeWithSpans(text, spans),
    encodeChat(messages, options = {}) {
      const { text, assistantSpans } = template.renderWithSpans(messages, { ...options, transform: nfc });
      return { text, ...tokenizer.encodeWithSpans(text, assistantSpans), assistantSpans };
    },
  };
}

/** As transformers: a conversation without messages is refused, not rendered. */
function nonEmpty(messages: readonly ChatMessage[]): void {
  if (messages.length === 0)
    throw new Error("cannot render a chat template for an empty conversation (messages)");
}

/**
 * An assistant message whose content opens with `<think>` and holds a `</think>`, with its reasoning moved to
 * `reasoning_content` (the text between the two, less newlines at both ends) and its content the text after
 * `</think>`, less leading newlines: the OpenAI-style field that reasoning templates read. Other messages as
 * they are.
 */
export function reasoningToField(message: ChatMessage): ChatMessage & { reasoning_content?: string } {
  const content = message.role === "assistant" ? message.content : null;
  const close = content?.indexOf("</think>") ?? -1;
  if (!content?.startsWith("<think>") || close < 0) return message;
  return {
    ...message,
    reasoning_content: content.slice("<think>".length, close).replace(/^\n+|\n+$/g, ""),
    content: content.slice(close + "</think>".length).replace(/^\n+/, ""),
  };
}

function parseArguments(message: ChatMessage): ChatMessage {
  if (message.role !== "assistant" || !message.tool_calls) return message;
  return {
    ...message,
    tool_calls: message.tool_calls.map((call) => ({
      ...call,
      function: { ...call.function, arguments: JSON.parse(call.function.arguments) as unknown },
    })),
  } as unknown as ChatMessage;
}

function mapStrings(value: unknown, f: (text: string) => string): unknown {
  if (typeof value === "string") return f(value);
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, f));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(value)) out[key] = mapStrings(field, f);
    return out;
  }
  return value;
}

/** Strips the generation markers from a rendering, keeping where they stood as spans. */
function spansFromMarkers(marked: string, source: string): { text: string; assistantSpans: TextSpan[] } {
  const assistantSpans: TextSpan[] = [];
  let text = "";
  let open = -1;
  let last = 0;
  for (let i = 0; i < marked.length; i++) {
    const c = marked[i];
    if (c !== OPEN && c !== CLOSE) continue;
    text += marked.slice(last, i);
    last = i + 1;
    if ((c === OPEN) !== open < 0)
      throw new Error(`${source}: {% generation %} blocks are nested or unclosed`);
    if (c === OPEN) open = text.length;
    else {
      if (text.length > open) assistantSpans.push({ start: open, end: text.length });
      open = -1;
    }
  }
  if (open >= 0) throw new Error(`${source}: a {% generation %} block is not closed`);
  return { text: text + marked.slice(last), assistantSpans };
}

// --- Python semantics for the parts of Jinja that @huggingface/jinja renders differently ---------------

/** Characters Python's `str.strip()` removes (`str.isspace`). */
const PY_SPACE = new Set(
  "\t\n\v\f\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000",
);

function stripSet(chars: string | undefined): (c: string) => boolean {
  if (chars !== undefined) return (c) => chars.includes(c);
  return (c) => PY_SPACE.has(c);
}
function pyLstrip(str: string, chars?: string): string {
  const strip = stripSet(chars);
  let i = 0;
  while (i < str.length && strip(str[i] as string)) i++;
  return str.slice(i);
}
function pyRstrip(str: string, chars?: string): string {
  const strip = stripSet(chars);
  let i = str.length;
  while (i > 0 && strip(str[i - 1] as string)) i--;
  return str.slice(0, i);
}
const trimEndPython = (s: string) => pyRstrip(s);
const trimStartPython = (s: string) => pyLstrip(s);

/** A runtime value of @huggingface/jinja, as a global function receives nested ones. */
type Runtime = { type: string; value: unknown };

function isRuntime(value: unknown): value is Runtime {
  return !!value && typeof value === "object" && "type" in value && "value" in value;
}

type DumpOptions = {
  indent: string | undefined;
  itemSep: string;
  keySep: string;
  sortKeys: boolean;
  ensureAscii: boolean;
};

/** Python's `json.dumps` over a value @huggingface/jinja hands a global function. */
function pyDumps(value: unknown, o: DumpOptions, depth: number): string {
  let type: string;
  let v: unknown = value;
  if (isRuntime(value)) {
    type = value.type;
    v = value.value;
  } else if (v === null || v === undefined) type = "NullValue";
  else if (v instanceof Map) type = "ObjectValue";
  else if (Array.isArray(v)) type = "ArrayValue";
  else if (typeof v === "string") type = "StringValue";
  else if (typeof v === "boolean") type = "BooleanValue";
  else if (typeof v === "number") type = Number.isInteger(v) ? "IntegerValue" : "FloatValue";
  else type = "ObjectValue";
  switch (type) {
    case "NullValue":
    case "UndefinedValue":
      return "null";
    case "BooleanValue":
      return v ? "true" : "false";
    case "IntegerValue":
      return String(v);
    case "FloatValue":
      return pythonFloatRepr(v as number);
    case "StringValue": {
      const s = JSON.stringify(v);
      return o.ensureAscii
        ? s.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)
        : s;
    }
    case "ArrayValue":
    case "TupleValue": {
      const items = (v as unknown[]).map((x) => pyDumps(x, o, depth + 1));
      return wrap("[", "]", items, o, depth);
    }
    default: {
      const map = v instanceof Map ? (v as Map<string, unknown>) : new Map(Object.entries(v as object));
      let entries = [...map.entries()];
      if (o.sortKeys) entries = entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      const items = entries.map(
        ([k, x]) => `${pyDumps(k, o, depth + 1)}${o.keySep}${pyDumps(x, o, depth + 1)}`,
      );
      return wrap("{", "}", items, o, depth);
    }
  }
}

function wrap(open: string, close: string, items: string[], o: DumpOptions, depth: number): string {
  if (items.length === 0) return open + close;
  if (o.indent === undefined) return open + items.join(o.itemSep) + close;
  const inner = `\n${o.indent.repeat(depth + 1)}`;
  return `${open}${inner}${items.join(o.itemSep + inner)}\n${o.indent.repeat(depth)}${close}`;
}

const unwrap = (x: unknown) => (isRuntime(x) ? x.value : x);

/** Python's `str()` of a runtime value a template hands a string method or filter. */
function pyStr(value: unknown): string {
  if (isRuntime(value)) {
    if (value.type === "NullValue") return "None";
    if (value.type === "UndefinedValue") return "";
    if (value.type === "BooleanValue") return value.value ? "True" : "False";
    if (value.type === "FloatValue") return pythonFloatRepr(value.value as number);
    return String(value.value);
  }
  return value == null ? "" : String(value);
}

/** A helper's arguments: the rewritten call passes them as one list, so that they arrive as runtime values. */
const args = (list: unknown) => list as unknown[];
const chars = (value: unknown) =>
  isRuntime(value) && value.type === "StringValue" ? (value.value as string) : undefined;

/** Globals the rewritten template calls; the names cannot clash with a template's. */
const PYTHON_HELPERS: Record<string, unknown> = {
  __py_lstrip: (list: unknown) => {
    const [s, c] = args(list);
    return pyLstrip(pyStr(s), chars(c));
  },
  __py_rstrip: (list: unknown) => {
    const [s, c] = args(list);
    return pyRstrip(pyStr(s), chars(c));
  },
  __py_strip: (list: unknown) => {
    const [s, c] = args(list);
    return pyRstrip(pyLstrip(pyStr(s), chars(c)), chars(c));
  },
  __py_tojson: (list: unknown) => {
    const [value, ensureAscii, indent, separators, sortKeys] = args(list);
    const ind = unwrap(indent);
    const seps = unwrap(separators) as unknown[] | null | undefined;
    const indentText = ind == null ? undefined : typeof ind === "number" ? " ".repeat(ind) : String(ind);
    return pyDumps(
      value,
      {
        indent: indentText,
        itemSep: seps ? String(unwrap(seps[0])) : indentText === undefined ? ", " : ",",
        keySep: seps ? String(unwrap(seps[1])) : ": ",
        sortKeys: unwrap(sortKeys) === true,
        ensureAscii: unwrap(ensureAscii) === true,
      },
      0,
    );
  },
};

type Node = { type: string; [key: string]: unknown };
const ident = (value: string): Node => ({ type: "Identifier", value });
/** A call of a helper with its arguments as one list literal (see PYTHON_HELPERS). */
const helperCall = (name: string, list: unknown[]): Node => ({
  type: "CallExpression",
  callee: ident(name),
  args: [{ type: "ArrayLiteral", value: list }],
});
const TOJSON_ARGS = ["ensure_ascii", "indent", "separators", "sort_keys"];

/** Rewrites the parsed template so that the Python-divergent calls go to PYTHON_HELPERS. */
function rewrite(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(rewrite);
  if (!node || typeof node !== "object" || node instanceof Map) {
    if (node instanceof Map) return new Map([...node].map(([k, v]) => [rewrite(k), rewrite(v)]));
    return node;
  }
  const n = node as Node;
  for (const key of Object.keys(n)) n[key] = rewrite(n[key]);
  // x.strip(chars) / x.lstrip(chars) / x.rstrip(chars)
  if (n.type === "CallExpression") {
    const callee = n.callee as Node;
    const property = callee.property as Node | undefined;
    if (
      callee.type === "MemberExpression" &&
      !callee.computed &&
      property?.type === "Identifier" &&
      ["strip", "lstrip", "rstrip"].includes(property.value as string) &&
      (n.args as Node[]).length <= 1
    ) {
      return helperCall(`__py_${property.value}`, [callee.object, ...(n.args as Node[])]);
    }
  }
  // x | trim, x | trim(chars), x | tojson, x | tojson(indent=…)
  if (n.type === "FilterExpression") {
    const filter = n.filter as Node;
    const name = filter.type === "Identifier" ? filter.value : (filter.callee as Node | undefined)?.value;
    const args = filter.type === "CallExpression" ? (filter.args as Node[]) : [];
    if (name === "trim") return helperCall("__py_strip", [n.operand, ...args]);
    if (name === "tojson") {
      const positional: Node[] = TOJSON_ARGS.map(() => ident("none"));
      args.forEach((arg, i) => {
        if (arg.type === "KeywordArgumentExpression") {
          const at = TOJSON_ARGS.indexOf((arg.key as Node).value as string);
          if (at < 0) throw new Error(`tojson has no argument ${(arg.key as Node).value}`);
          positional[at] = arg.value as Node;
        } else positional[i] = arg;
      });
      return helperCall("__py_tojson", [n.operand, ...positional]);
    }
  }
  return n;
}
