/**
 * @module Sample contracts: the rows a dataset version holds, one zod schema per dataset kind.
 *
 * Chat rows follow the OpenAI chat format (with `tool_calls` on assistant turns and `tool` turns answering
 * them), text rows hold one corpus document, RL prompt rows follow the `prompt` + `reward_model` convention
 * that RL trainers read. Every row has an `id`, a `source` and a JSON `meta` with provenance.
 */
import { z } from "zod";
import { jsonValueIssue } from "./json-limits";

export const datasetKinds = ["chat", "text", "rl-prompt"] as const;
export const DatasetKind = z.enum(datasetKinds);
export type DatasetKind = z.infer<typeof DatasetKind>;

/** Arbitrary JSON object, stored as a JSON string column in Parquet. */
export const JsonObject = z.record(z.string(), z.unknown());
export type JsonObject = z.infer<typeof JsonObject>;

/**
 * Why a tool call's `arguments` text is not the JSON of an object, or undefined when it is. An object, as in
 * OpenAI's format: the chat template writes the text as the call's `"arguments"` object, and tool-use
 * pipelines validate it against the tool's parameter schema, whose top level is an object.
 */
export function argumentsProblem(text: string): string | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return `not JSON: ${(error as Error).message}`;
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    const found = value === null ? "null" : Array.isArray(value) ? "an array" : `a ${typeof value}`;
    return `must be the text of a JSON object (the call's named arguments), not ${found}`;
  }
  const issue = jsonValueIssue(value);
  if (issue) return `the JSON${issue.path.length ? ` at ${issue.path.join(".")}` : ""} ${issue.message}`;
  return undefined;
}

export const ToolCall = z.strictObject({
  id: z.string().min(1),
  type: z.literal("function"),
  function: z.strictObject({
    name: z.string().min(1),
    /** The JSON text of the arguments object, exactly as the OpenAI format carries it. */
    arguments: z.string().superRefine((text, ctx) => {
      const problem = argumentsProblem(text);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    }),
  }),
});
export type ToolCall = z.infer<typeof ToolCall>;

const SystemMessage = z.strictObject({ role: z.literal("system"), content: z.string() });
const UserMessage = z.strictObject({ role: z.literal("user"), content: z.string() });
const AssistantMessage = z
  .strictObject({
    role: z.literal("assistant"),
    content: z.string().nullable(),
    tool_calls: z.array(ToolCall).min(1).optional(),
  })
  .refine((m) => m.content !== null || m.tool_calls !== undefined, {
    message: "an assistant turn needs content or tool_calls",
  });
const ToolMessage = z.strictObject({
  role: z.literal("tool"),
  content: z.string(),
  tool_call_id: z.string().min(1).optional(),
  name: z.string().min(1).optional(),
});

export const ChatMessage = z.discriminatedUnion("role", [
  SystemMessage,
  UserMessage,
  AssistantMessage,
  ToolMessage,
]);
export type ChatMessage = z.infer<typeof ChatMessage>;

/** A tool definition in the OpenAI `tools` format. */
export const ToolDefinition = z.strictObject({
  type: z.literal("function"),
  function: z.object({
    name: z.string().min(1),
    description: z.string().optional(),
    parameters: JsonObject.optional(),
  }),
});
export type ToolDefinition = z.infer<typeof ToolDefinition>;

/** `id` and `source` are indexed in PostgreSQL, whose text cannot hold U+0000. */
const NO_NUL = [
  (text: string) => !text.includes("\u0000"),
  "holds a NUL character (U+0000), which PostgreSQL text cannot store",
] as const;

const SampleBase = {
  /** Stable sample id; when an input omits it, the builder derives it from the content hash. */
  id: z
    .string()
    .min(1)
    .max(256)
    .refine(...NO_NUL),
  /** Where the sample came from (a corpus name, a file, a hub repo). */
  source: z
    .string()
    .min(1)
    .max(512)
    .refine(...NO_NUL),
  meta: JsonObject,
};

export const ChatSample = z.strictObject({
  ...SampleBase,
  messages: z.array(ChatMessage).min(1),
  tools: z.array(ToolDefinition).nullable(),
});
export type ChatSample = z.infer<typeof ChatSample>;

export const TextSample = z.strictObject({
  ...SampleBase,
  text: z.string().min(1),
});
export type TextSample = z.infer<typeof TextSample>;

export const RewardModel = z.strictObject({
  /** `rule` (verifiable answer or constraint check) or `model` (judged). */
  style: z.enum(["rule", "model"]),
  /** The reference the reward compares against; JSON-encoded when it is not a plain string. */
  ground_truth: z.string(),
});

export const RlPromptSample = z.strictObject({
  ...SampleBase,
  prompt: z.array(z.strictObject({ role: z.enum(["system", "user"]), content: z.string() })).min(1),
  reward_model: RewardModel,
});
export type RlPromptSample = z.infer<typeof RlPromptSample>;

export type Sample = ChatSample | TextSample | RlPromptSample;

export const sampleSchemas = {
  chat: ChatSample,
  text: TextSample,
  "rl-prompt": RlPromptSample,
} as const satisfies Record<DatasetKind, z.ZodType>;

/**
 * What an input record may leave out: the builder fills `id`, `source` and `meta`. Every input, of a direct
 * build or of a pipeline, passes here, so this is where values a dataset cannot keep (`json-limits.ts`) are
 * refused, wherever in the record they are.
 */
export function inputSchemaFor(kind: DatasetKind) {
  return sampleSchemas[kind]
    .extend({
      id: SampleBase.id.optional(),
      source: SampleBase.source.optional(),
      meta: JsonObject.optional(),
      ...(kind === "chat" ? { tools: z.array(ToolDefinition).nullable().optional() } : {}),
    })
    .superRefine((record, ctx) => {
      const issue = jsonValueIssue(record);
      if (issue) ctx.addIssue({ code: "custom", path: issue.path, message: issue.message });
    });
}

/** The fields whose content a sample's content hash covers (everything but id, source and meta). */
export const contentFields: Record<DatasetKind, readonly string[]> = {
  chat: ["messages", "tools"],
  text: ["text"],
  "rl-prompt": ["prompt", "reward_model"],
};

export const SPLIT_NAME = /^[a-z][a-z0-9_]{0,31}$/;
export const SplitName = z
  .string()
  .regex(SPLIT_NAME, "split names are lowercase letters, digits and underscores, starting with a letter");
