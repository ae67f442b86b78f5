/**
 * @module Reader for the Berkeley Function-Calling Leaderboard (BFCL v4): questions and function
 * definitions in one JSON Lines file (named `.json`), ground truth in a `possible_answer/` file of the same
 * name. Each single-turn record becomes a chat sample: the question's turns, the functions as OpenAI tools
 * and, when the answer is known, an assistant turn with the expected calls.
 *
 * BFCL writes parameter schemas in its own dialect (`dict`, `float`, `tuple`, `any`), which is mapped to
 * JSON Schema here. Its answers list the acceptable values of every argument; the first is taken, and an
 * argument whose acceptable values include `""` (BFCL's mark for "may be left out") is left out. Multi-turn
 * records declare no tools (BFCL runs them against its own Python classes) and come back as `unsupported`.
 */
import { basename } from "node:path";
import { readJsonl, recordText } from "@sovereign/shards";
import { type ToolChatInput, type ToolSampleRecord, toRecord } from "./sample";

/** BFCL type names that JSON Schema spells otherwise; `any` is dropped, which is JSON Schema's "anything". */
const BFCL_TYPES: Record<string, string | undefined> = {
  dict: "object",
  float: "number",
  tuple: "array",
  any: undefined,
};

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** A BFCL parameter schema as JSON Schema: only `type` changes, at every place a schema can sit. */
export function bfclSchemaToJsonSchema(schema: unknown): unknown {
  if (!isPlainObject(schema)) return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === "type" && typeof value === "string" && value in BFCL_TYPES) {
      const type = BFCL_TYPES[value];
      if (type !== undefined) out.type = type;
    } else if ((key === "properties" || key === "definitions" || key === "$defs") && isPlainObject(value)) {
      out[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, bfclSchemaToJsonSchema(v)]));
    } else if (key === "items" || key === "additionalProperties" || key === "not") {
      out[key] = Array.isArray(value) ? value.map(bfclSchemaToJsonSchema) : bfclSchemaToJsonSchema(value);
    } else if ((key === "anyOf" || key === "oneOf" || key === "allOf") && Array.isArray(value)) {
      out[key] = value.map(bfclSchemaToJsonSchema);
    } else {
      out[key] = value;
    }
  }
  return out;
}

class AnswerError extends Error {}

/**
 * One call's arguments from BFCL's acceptable values (`{arg: [value, …]}`): the first value of each, nested
 * dicts (written the same way, key → acceptable values) resolved likewise. An argument whose values
 * include `""` is left out, unless `schema` (the JSON Schema of the object) requires it: BFCL marks some
 * required arguments so too, and then the first value other than `""` is taken.
 */
export function bfclArguments(
  possible: unknown,
  schema?: unknown,
  path = "arguments",
): Record<string, unknown> {
  if (!isPlainObject(possible)) throw new AnswerError(`${path}: expected an object of acceptable values`);
  const required = isPlainObject(schema) && Array.isArray(schema.required) ? schema.required : [];
  const properties = isPlainObject(schema) && isPlainObject(schema.properties) ? schema.properties : {};
  const args: Record<string, unknown> = {};
  for (const [name, options] of Object.entries(possible)) {
    const at = `${path}.${name}`;
    if (!Array.isArray(options)) throw new AnswerError(`${at}: acceptable values are not a list`);
    const given = options.filter((option) => option !== "");
    if (given.length < options.length && !required.includes(name)) continue;
    if (given.length === 0) throw new AnswerError(`${at}: lists no acceptable value`);
    args[name] = resolveValue(given[0], properties[name], at);
  }
  return args;
}

function resolveValue(value: unknown, schema: unknown, path: string): unknown {
  if (isPlainObject(value)) return bfclArguments(value, schema, path);
  if (Array.isArray(value)) {
    const items = isPlainObject(schema) ? schema.items : undefined;
    return value.map((item, i) => resolveValue(item, items, `${path}[${i}]`));
  }
  return value;
}

type BfclRecord = {
  id: string;
  question: { role: string; content: string }[][];
  function?: { name: string; description?: string; parameters?: unknown }[];
  involved_classes?: string[];
};

export type BfclConversion =
  | { ok: true; value: ToolChatInput }
  | { ok: false; reason: "invalid" | "unsupported"; message: string };

/**
 * One BFCL record as a chat sample input (not yet validated). `groundTruth` is the answer file's
 * `ground_truth` for the record: a list of `{function_name: {arg: acceptable values}}`, one per call.
 */
export function convertBfclRecord(record: unknown, category: string, groundTruth?: unknown): BfclConversion {
  if (!isPlainObject(record) || typeof record.id !== "string" || !Array.isArray(record.question)) {
    return {
      ok: false,
      reason: "invalid",
      message: "not a BFCL record: needs a string `id` and a `question` list",
    };
  }
  const bfcl = record as BfclRecord;
  if (bfcl.question.length !== 1 || bfcl.function === undefined) {
    const classes = bfcl.involved_classes?.length ? ` (${bfcl.involved_classes.join(", ")})` : "";
    return {
      ok: false,
      reason: "unsupported",
      message:
        `sample ${bfcl.id}: multi-turn record (${bfcl.question.length} user turns): its tools are BFCL's Python ` +
        `classes${classes}, not declared in the record, and its answers are Python call strings`,
    };
  }
  if (!Array.isArray(bfcl.function)) {
    return { ok: false, reason: "invalid", message: `sample ${bfcl.id}: \`function\` is not a list` };
  }
  const value: ToolChatInput = {
    id: bfcl.id,
    meta: { dataset: "bfcl-v4", category, bfclId: bfcl.id },
    messages: bfcl.question[0] as ToolChatInput["messages"],
    tools: bfcl.function.map(({ parameters, ...fn }) => ({
      type: "function",
      function: {
        ...fn,
        ...(parameters === undefined
          ? {}
          : { parameters: bfclSchemaToJsonSchema(parameters) as Record<string, unknown> }),
      },
    })),
  };
  if (groundTruth === undefined) return { ok: true, value };
  try {
    if (!Array.isArray(groundTruth) || groundTruth.length === 0) {
      throw new AnswerError("ground_truth: expected a non-empty list of calls");
    }
    const toolCalls = groundTruth.map((call, i) => {
      const entries = isPlainObject(call) ? Object.entries(call) : [];
      const [name, possible] = entries[0] ?? [];
      if (entries.length !== 1 || name === undefined) {
        throw new AnswerError(`ground_truth[${i}]: expected one {function_name: arguments} entry`);
      }
      const parameters = value.tools?.find((tool) => tool.function.name === name)?.function.parameters;
      return {
        id: `call_${i}`,
        type: "function" as const,
        function: {
          name,
          arguments: JSON.stringify(bfclArguments(possible, parameters, `ground_truth[${i}].${name}`)),
        },
      };
    });
    value.messages = [...value.messages, { role: "assistant", content: null, tool_calls: toolCalls }];
  } catch (error) {
    if (!(error instanceof AnswerError)) throw error;
    return { ok: false, reason: "invalid", message: `sample ${bfcl.id}: ${error.message}` };
  }
  return { ok: true, value };
}

/** `BFCL_v4_parallel_multiple.json` → `parallel_multiple`. */
export function bfclCategory(file: string): string {
  const name = basename(file);
  return /^BFCL_v\d+_(.+)\.jsonl?$/.exec(name)?.[1] ?? name.replace(/\.jsonl?$/, "");
}

/** The answers file as id → `ground_truth`; a line that cannot be read fails the whole import. */
async function readAnswers(file: string, label: string): Promise<Map<string, unknown>> {
  const answers = new Map<string, unknown>();
  for await (const record of readJsonl(file, label)) {
    if (!record.ok) throw new Error(`${record.location}: ${record.message}`);
    const { id, ground_truth } = (record.value ?? {}) as { id?: unknown; ground_truth?: unknown };
    if (typeof id !== "string" || ground_truth === undefined) {
      throw new Error(`${record.location}: an answer needs a string \`id\` and a \`ground_truth\``);
    }
    answers.set(id, ground_truth);
  }
  return answers;
}

export type BfclOptions = {
  /** Names the questions file in locations (`label:line`); defaults to its path. */
  label?: string;
  /** Names the answers file in messages; defaults to its path. */
  answersLabel?: string;
};

/**
 * Records of a BFCL questions file, each a validated, canonical chat sample or a rejection. With
 * `answersFile`, every record needs an answer there and gets the expected calls as its assistant turn;
 * without one (BFCL's `irrelevance` category has none), samples end with the user's question.
 */
export async function* bfclSamples(
  file: string,
  answersFile?: string,
  options: BfclOptions = {},
): AsyncGenerator<ToolSampleRecord> {
  const label = options.label ?? file;
  const answersLabel = options.answersLabel ?? answersFile;
  const answers = answersFile ? await readAnswers(answersFile, answersLabel ?? answersFile) : undefined;
  const category = bfclCategory(file);
  for await (const record of readJsonl(file, label)) {
    if (!record.ok) {
      yield record;
      continue;
    }
    const raw = () => recordText(record.value);
    const id = isPlainObject(record.value) ? record.value.id : undefined;
    const groundTruth = answers && typeof id === "string" ? answers.get(id) : undefined;
    const converted = convertBfclRecord(record.value, category, groundTruth);
    if (!converted.ok) {
      yield {
        ok: false,
        location: record.location,
        reason: converted.reason,
        message: converted.message,
        raw: raw(),
      };
    } else if (answers && groundTruth === undefined) {
      yield {
        ok: false,
        location: record.location,
        reason: "invalid",
        message: `sample ${String(id)}: no ground truth for it in ${answersLabel}`,
        raw: raw(),
      };
    } else {
      yield toRecord(record.location, converted.value, raw);
    }
  }
}
