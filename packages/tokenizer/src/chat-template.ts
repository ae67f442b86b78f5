/**
 * @module The Qwen3 chat template (the Jinja `chat_template` of Qwen3's tokenizer_config.json), written out in
 * TypeScript so that rendering costs no template engine per sample.
 *
 * Every branch mirrors a line of the template, and the tests compare the output with the Jinja template
 * itself, rendered the way Hugging Face transformers renders it. Besides the text, the renderer records which
 * part of the sample each stretch of text came from (for token counts by role) and where each assistant
 * turn's trained text lies (for loss masks).
 */
import type { ChatMessage, ToolDefinition } from "@sovereign/schemas";

export type ChatTemplateOptions = {
  /** Tool definitions offered to the model; none, null or an empty list renders no tools block. */
  tools?: readonly ToolDefinition[] | null;
  /** Append the header of the next assistant turn (`<|im_start|>assistant\n`), as for generation. */
  addGenerationPrompt?: boolean;
  /**
   * `false` appends an empty think block after the generation prompt (Qwen3's non-thinking mode). The
   * template reads nothing else from it: past turns render the same either way.
   */
  enableThinking?: boolean;
};

/** What a stretch of the rendering belongs to: a message role, or the tools block of the system turn. */
export type ChatPart = "system" | "user" | "assistant" | "tool" | "tools";

/** A stretch of the rendering, in UTF-16 offsets: `[start, end)`. */
export type TextSpan = { start: number; end: number };

export type RenderedChat = {
  text: string;
  /** Consecutive stretches covering `text` from 0 to its end, each with the part it belongs to. */
  parts: { part: ChatPart; span: TextSpan }[];
  /**
   * What a trainer trains on: each assistant message's rendering after its `<|im_start|>assistant\n`
   * header, through its closing `<|im_end|>` (think block, content and tool calls included, the newline
   * after `<|im_end|>` not). The generation prompt is not an assistant message and has no span.
   */
  assistantSpans: TextSpan[];
};

const TOOLS_PREAMBLE =
  "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n" +
  "You are provided with function signatures within <tools></tools> XML tags:\n<tools>";
const TOOLS_POSTAMBLE =
  "\n</tools>\n\nFor each function call, return a json object with function name and arguments within " +
  '<tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n' +
  "</tool_call>";

/** Jinja's `str.strip('\n')` family: only newlines are stripped. */
function lstripNewlines(s: string): string {
  let i = 0;
  while (s.charCodeAt(i) === 10) i++;
  return i === 0 ? s : s.slice(i);
}
function rstripNewlines(s: string): string {
  let i = s.length;
  while (i > 0 && s.charCodeAt(i - 1) === 10) i--;
  return i === s.length ? s : s.slice(0, i);
}

/** A user turn that only carries tool responses does not count as the user's query. */
function isToolResponseTurn(content: string): boolean {
  return content.startsWith("<tool_response>") && content.endsWith("</tool_response>");
}

/**
 * The template's reading of `<think>` inside an assistant message: the answer is what follows the last
 * `</think>`, less leading newlines; the reasoning is what lies between the last `<think>` before the first
 * `</think>` and that `</think>`, less the newlines at both ends.
 */
function splitReasoning(content: string): { content: string; reasoning: string } {
  if (!content.includes("</think>")) return { content, reasoning: "" };
  const pieces = content.split("</think>");
  const beforeFirstClose = rstripNewlines(pieces[0] as string).split("<think>");
  return {
    content: lstripNewlines(pieces[pieces.length - 1] as string),
    reasoning: lstripNewlines(beforeFirstClose[beforeFirstClose.length - 1] as string),
  };
}

/**
 * Renders `messages` exactly as the Qwen3 chat template does. `transform` is applied to every piece of
 * message or tool text before it is placed (the tokenizer passes NFC so that offsets survive its
 * normalization); template text is ASCII and left as is.
 *
 * Where the Jinja template would fail, this renders instead: an assistant message with `content: null`
 * (allowed by the OpenAI format when it has tool calls) renders like `content: ""`.
 */
export function renderQwen3Chat(
  messages: readonly ChatMessage[],
  options: ChatTemplateOptions = {},
  transform: (text: string) => string = (text) => text,
): RenderedChat {
  const parts: RenderedChat["parts"] = [];
  const assistantSpans: TextSpan[] = [];
  let text = "";
  const emit = (part: ChatPart, piece: string) => {
    if (piece.length === 0) return;
    const last = parts[parts.length - 1];
    if (last?.part === part) last.span.end += piece.length;
    else parts.push({ part, span: { start: text.length, end: text.length + piece.length } });
    text += piece;
  };

  const tools = options.tools ?? [];
  const first = messages[0];
  if (tools.length > 0) {
    // Without a system message the system turn exists only to carry the tools, so its frame counts as tools.
    const frame: ChatPart = first?.role === "system" ? "system" : "tools";
    emit(frame, "<|im_start|>system\n");
    if (first?.role === "system") emit("system", `${transform(first.content)}\n\n`);
    emit("tools", TOOLS_PREAMBLE);
    for (const tool of tools) emit("tools", `\n${transform(pythonJsonDumps(tool))}`);
    emit("tools", TOOLS_POSTAMBLE);
    emit(frame, "<|im_end|>\n");
  } else if (first?.role === "system") {
    emit("system", `<|im_start|>system\n${transform(first.content)}<|im_end|>\n`);
  }

  // Index of the last real user query; assistant turns after it keep their reasoning.
  let lastQueryIndex = messages.length - 1;
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i] as ChatMessage;
    if (message.role === "user" && !isToolResponseTurn(message.content)) {
      lastQueryIndex = i;
      break;
    }
  }

  messages.forEach((message, index) => {
    const isLast = index === messages.length - 1;
    switch (message.role) {
      case "system":
        if (index > 0) emit("system", `<|im_start|>system\n${transform(message.content)}<|im_end|>\n`);
        return;
      case "user":
        emit("user", `<|im_start|>user\n${transform(message.content)}<|im_end|>\n`);
        return;
      case "tool": {
        if (index === 0 || messages[index - 1]?.role !== "tool") emit("tool", "<|im_start|>user");
        emit("tool", `\n<tool_response>\n${transform(message.content)}\n</tool_response>`);
        if (isLast || messages[index + 1]?.role !== "tool") emit("tool", "<|im_end|>\n");
        return;
      }
      case "assistant": {
        const { content, reasoning } = splitReasoning(message.content ?? "");
        emit("assistant", "<|im_start|>assistant\n");
        const start = text.length;
        if (index > lastQueryIndex && (isLast || reasoning)) {
          const thought = lstripNewlines(rstripNewlines(reasoning));
          emit(
            "assistant",
            `<think>\n${transform(thought)}\n</think>\n\n${transform(lstripNewlines(content))}`,
          );
        } else {
          emit("assistant", transform(content));
        }
        (message.tool_calls ?? []).forEach((call, i) => {
          if (i > 0 || content) emit("assistant", "\n");
          const { name, arguments: args } = call.function;
          emit(
            "assistant",
            `<tool_call>\n{"name": "${transform(name)}", "arguments": ${transform(args)}}\n</tool_call>`,
          );
        });
        emit("assistant", "<|im_end|>");
        assistantSpans.push({ start, end: text.length });
        emit("assistant", "\n");
        return;
      }
    }
  });

  if (options.addGenerationPrompt) {
    emit("assistant", "<|im_start|>assistant\n");
    if (options.enableThinking === false) emit("assistant", "<think>\n\n</think>\n\n");
  }
  return { text, parts, assistantSpans };
}

/**
 * Python's `json.dumps(value, ensure_ascii=False)`, which is what the template's `tojson` filter is under
 * Hugging Face transformers: `", "` and `": "` separators, keys in insertion order, non-ASCII kept.
 *
 * JavaScript loses one distinction Python keeps: a JSON `1.0` parses to the number 1 and prints as `1`
 * here, where Python would keep the float and print `1.0`. Integer-like keys also come first in
 * JavaScript objects whatever their written order.
 */
export function pythonJsonDumps(value: unknown): string {
  if (value === null || value === undefined) return "null";
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
    case "number":
      return pythonNumber(value);
    case "object": {
      if (Array.isArray(value)) return `[${value.map(pythonJsonDumps).join(", ")}]`;
      const fields: string[] = [];
      for (const [key, field] of Object.entries(value)) {
        if (field !== undefined) fields.push(`${JSON.stringify(key)}: ${pythonJsonDumps(field)}`);
      }
      return `{${fields.join(", ")}}`;
    }
    default:
      throw new TypeError(`cannot write a ${typeof value} as JSON`);
  }
}

/**
 * A safe integer prints as a Python int; any other number as Python's float repr (`1e-05`, `1e+100`), since
 * JSON text with an integer beyond 2^53 is rare and `1e100`-style floats are not.
 */
function pythonNumber(n: number): string {
  return Number.isSafeInteger(n) ? String(n) : pythonFloatRepr(n);
}

/** Python's float repr of `n`: `1e-05`, `2.0`, `1e+16`, `NaN`, `Infinity`. */
export function pythonFloatRepr(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (!Number.isFinite(n)) return n > 0 ? "Infinity" : "-Infinity";
  if (Object.is(n, -0)) return "-0.0";
  // toExponential() gives the shortest round-tripping digits, the same digits Python's repr picks.
  const [mantissa, exponentText] = n.toExponential().split("e") as [string, string];
  const exponent = Number(exponentText);
  const sign = n < 0 ? "-" : "";
  const digits = mantissa.replace("-", "").replace(".", "");
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) return `${sign}0.${"0".repeat(-exponent - 1)}${digits}`;
    const whole = digits.slice(0, exponent + 1).padEnd(exponent + 1, "0");
    return `${sign}${whole}.${digits.slice(exponent + 1) || "0"}`;
  }
  const fraction = digits.length > 1 ? `.${digits.slice(1)}` : "";
  const magnitude = String(Math.abs(exponent)).padStart(2, "0");
  return `${sign}${digits[0]}${fraction}e${exponent < 0 ? "-" : "+"}${magnitude}`;
}
