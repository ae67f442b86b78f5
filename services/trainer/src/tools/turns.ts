/**
 * @module The service's side of a multi-turn rollout (`POST /turns`, docs/engine-protocol.md): the engine sends a
 * rollout's completion so far; the service decodes its last assistant turn, and when that turn calls tools, runs
 * them and answers the token ids to append: the end of the assistant turn if the policy did not write it, the
 * tool turn exactly as Qwen3's chat template renders tool messages after an assistant turn, and the next
 * assistant header (the generation prompt, with the empty think block in non-thinking mode). A turn without a
 * tool call, or a rollout that has written its `maxTurns` assistant turns, is done.
 *
 * Tool calls are Qwen3's (Hermes') format inside the assistant turn: `<tool_call>\n{"name": …, "arguments":
 * {…}}\n</tool_call>`, one or more. A call that does not parse, names a tool the run does not offer, or carries
 * arguments its schema refuses (checked as `@sovereign/tool-use` checks tool-calling samples, each problem named
 * by its field) is answered with a tool message `error: …`, never a failed request: the policy learns from it.
 * Nothing the policy wrote is executed; tools only read their arguments.
 */
import type { ChatMessage, ToolDefinition } from "@sovereign/schemas";
import { renderQwen3Chat } from "@sovereign/tokenizer";
import { validateToolSample } from "@sovereign/tool-use";
import { type Tool, ToolInputError } from "./registry";

/** At most this many calls of one turn are run; the rest are answered with an error. */
export const MAX_CALLS_PER_TURN = 4;

const ASSISTANT_HEADER = "<|im_start|>assistant\n";
const END_OF_TURN = "<|im_end|>";
const EMPTY_THINK = "<think>\n\n</think>\n\n";

export type ParsedCall =
  | { ok: true; name: string; arguments: Record<string, unknown> }
  | { ok: false; error: string; name?: string };

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** The tool calls of an assistant turn's text, in order, each parsed or with what is wrong with it. */
export function parseToolCalls(turn: string): ParsedCall[] {
  const calls: ParsedCall[] = [];
  const pattern = /<tool_call>([\s\S]*?)(<\/tool_call>|$)/g;
  for (const match of turn.matchAll(pattern)) {
    if (match[0].length === 0) break;
    if (match[2] !== "</tool_call>") {
      calls.push({ ok: false, error: "the tool call is not closed by </tool_call>" });
      continue;
    }
    const body = (match[1] as string).trim();
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch (error) {
      calls.push({ ok: false, error: `the tool call is not JSON: ${(error as Error).message}` });
      continue;
    }
    if (!isObject(value) || typeof value.name !== "string") {
      calls.push({ ok: false, error: 'a tool call is a JSON object {"name": <tool>, "arguments": {…}}' });
      continue;
    }
    let args = value.arguments ?? {};
    if (typeof args === "string") {
      try {
        args = JSON.parse(args);
      } catch (error) {
        calls.push({
          ok: false,
          name: value.name,
          error: `arguments: not JSON: ${(error as Error).message}`,
        });
        continue;
      }
    }
    if (!isObject(args)) {
      calls.push({ ok: false, name: value.name, error: "arguments: must be a JSON object" });
      continue;
    }
    calls.push({ ok: true, name: value.name, arguments: args });
  }
  return calls;
}

/**
 * The problems of a call against the offered tools, as `@sovereign/tool-use` reports them for a sample, with
 * the call's place in the sample left out: `arguments.query: must be string`, `name: calls "x", which is not a
 * declared tool (declared: …)`.
 */
export function callProblems(
  call: { name: string; arguments: Record<string, unknown> },
  tools: ToolDefinition[],
) {
  const problems = validateToolSample({
    messages: [
      {
        role: "assistant",
        content: "",
        tool_calls: [
          {
            id: "call",
            type: "function",
            function: { name: call.name, arguments: JSON.stringify(call.arguments) },
          },
        ],
      },
    ],
    tools,
  });
  return problems.map((problem) => {
    const text = problem
      .replace(/^messages\[0\]\.tool_calls\[0\]\.function\./, "")
      .replace(/ \(tool "[^"]*"\)$/, "");
    // The validator places argument problems by JSON pointer (`arguments/query`); fields read better dotted.
    const colon = text.indexOf(": ");
    return colon < 0 ? text : text.slice(0, colon).replaceAll("/", ".") + text.slice(colon);
  });
}

/** What each call of a turn answers: the tool's result, or `error: …`. */
export function runToolCalls(calls: readonly ParsedCall[], tools: ReadonlyMap<string, Tool>): string[] {
  const definitions = [...tools.values()].map((t) => t.definition);
  return calls.map((call, i) => {
    if (i >= MAX_CALLS_PER_TURN)
      return `error: at most ${MAX_CALLS_PER_TURN} tool calls are answered per turn`;
    if (!call.ok) return `error: ${call.error}`;
    const problems = callProblems(call, definitions);
    if (problems.length) return `error: ${problems.join("; ")}`;
    try {
      return (tools.get(call.name) as Tool).run(call.arguments);
    } catch (error) {
      if (error instanceof ToolInputError) return `error: ${error.message}`;
      throw error;
    }
  });
}

/**
 * The text to append after an assistant turn: `<|im_end|>` when the turn lacks it, the newline the template
 * writes after an assistant turn, the tool turn of `results` (one `tool` message each), and the next generation
 * prompt. Equal to what the chat template renders for those messages after the turn.
 */
export function toolTurnText(
  results: readonly string[],
  options: { closed: boolean; thinking: boolean },
): string {
  const messages: ChatMessage[] = results.map((content) => ({ role: "tool", content }));
  const { text } = renderQwen3Chat(messages, {
    addGenerationPrompt: true,
    ...(options.thinking ? {} : { enableThinking: false }),
  });
  return `${options.closed ? "" : END_OF_TURN}\n${text}`;
}

export type TurnTokenizer = { encode(text: string): number[]; decode(ids: readonly number[]): string };

export type TurnSettings = {
  tools: ReadonlyMap<string, Tool>;
  maxTurns: number;
  /** Each tool result is cut to this many tokens. */
  maxToolTokens?: number;
  /** The run's prompts are in thinking mode (no empty think block after a generation prompt). */
  thinking: boolean;
};

export type TurnAnswer = { done: true } | { done: false; append: number[]; calls: number };

/** The last assistant turn of a completion's text: what follows its last assistant header. */
export function lastTurn(completion: string): { turn: string; turns: number } {
  const parts = completion.split(ASSISTANT_HEADER);
  let turn = parts[parts.length - 1] as string;
  if (turn.startsWith(EMPTY_THINK)) turn = turn.slice(EMPTY_THINK.length);
  return { turn, turns: parts.length };
}

/** The answer for one rollout whose assistant turn just ended. */
export function answerTurn(
  completionIds: readonly number[],
  tokenizer: TurnTokenizer,
  settings: TurnSettings,
): TurnAnswer {
  const { turn, turns } = lastTurn(tokenizer.decode(completionIds));
  if (turns >= settings.maxTurns) return { done: true };
  const calls = parseToolCalls(turn);
  if (calls.length === 0) return { done: true };
  let results = runToolCalls(calls, settings.tools);
  if (settings.maxToolTokens !== undefined) {
    const limit = settings.maxToolTokens;
    results = results.map((r) => {
      const ids = tokenizer.encode(r);
      return ids.length <= limit ? r : tokenizer.decode(ids.slice(0, limit));
    });
  }
  const closed = turn.endsWith(END_OF_TURN);
  const text = toolTurnText(results, { closed, thinking: settings.thinking });
  return { done: false, append: tokenizer.encode(text), calls: calls.length };
}

/** Where the last assistant turn of a completion starts (after its header), in tokens: 0 when it has one turn. */
export function lastTurnStart(completionIds: readonly number[], header: readonly number[]): number {
  for (let at = completionIds.length - header.length; at >= 0; at--)
    if (header.every((id, j) => completionIds[at + j] === id)) return at + header.length;
  return 0;
}

export { ASSISTANT_HEADER };
