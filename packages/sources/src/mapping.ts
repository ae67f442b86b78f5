/**
 * @module Records → sample inputs, through a source's field mapping. The result is checked against the
 * kind's input schema here, so a bad record is reported by the field it came from (`field "answer"`), not
 * only by the sample field it was meant to fill.
 */
import { type DatasetKind, type FieldMapping, inputSchemaFor } from "@sovereign/schemas";
import type { z } from "zod";

/** A sample as an input file would hold it: `id`, `source` and `meta` may be left to the builder. */
export type SampleInput = z.output<ReturnType<typeof inputSchemaFor>>;

/** `malformed`: the mapping found no usable field; `invalid`: what it found fails the sample schema. */
export type MapResult =
  | { ok: true; input: SampleInput }
  | { ok: false; reason: "malformed" | "invalid"; message: string };

// `inputSchemaFor` builds a schema on each call; records are mapped by the million.
const inputSchemas = new Map<DatasetKind, ReturnType<typeof inputSchemaFor>>();
function inputSchema(kind: DatasetKind): ReturnType<typeof inputSchemaFor> {
  let schema = inputSchemas.get(kind);
  if (!schema) {
    schema = inputSchemaFor(kind);
    inputSchemas.set(kind, schema);
  }
  return schema;
}

/**
 * The value at a dot path (`a.b.0.c`; `$` is the whole value and `$.a.b` the same as `a.b`), or undefined
 * when any step is missing.
 */
export function getPath(value: unknown, path: string): unknown {
  if (path === "$") return value;
  let at: unknown = value;
  for (const key of (path.startsWith("$.") ? path.slice(2) : path).split(".")) {
    if (Array.isArray(at) && /^\d+$/.test(key)) at = at[Number(key)];
    else if (at !== null && typeof at === "object" && !Array.isArray(at) && Object.hasOwn(at, key))
      at = (at as Record<string, unknown>)[key];
    else return undefined;
  }
  return at;
}

class MappingError extends Error {}

const describe = (value: unknown): string =>
  value === null
    ? "null"
    : Array.isArray(value)
      ? "an array"
      : typeof value === "object"
        ? "an object"
        : `a ${typeof value}`;

const isBlank = (value: unknown) =>
  value === undefined || value === null || (typeof value === "string" && value.trim() === "");

const fieldName = (path: string) => (path === "$" ? "the whole record" : `field "${path}"`);

/** A string field; undefined when missing or blank. */
function optionalText(value: unknown, path: string): string | undefined {
  const found = getPath(value, path);
  if (isBlank(found)) return undefined;
  if (typeof found !== "string") throw new MappingError(`${fieldName(path)} is ${describe(found)}, not text`);
  return found;
}

function requiredText(value: unknown, path: string, what: string): string {
  const found = getPath(value, path);
  if (found === undefined || found === null)
    throw new MappingError(`${what}: ${fieldName(path)} is ${found === undefined ? "missing" : "null"}`);
  if (typeof found !== "string")
    throw new MappingError(`${what}: ${fieldName(path)} is ${describe(found)}, not text`);
  return found;
}

/** Arrays (messages, tools) may arrive as JSON text, as CSV and Parquet columns often carry them. */
function jsonValue(value: unknown, path: string, what: string): unknown {
  const found = getPath(value, path);
  if (typeof found !== "string") return found;
  try {
    return JSON.parse(found);
  } catch (error) {
    throw new MappingError(`${what}: ${fieldName(path)} is text but not JSON (${(error as Error).message})`);
  }
}

/** An unmapped sample field, taken from the record's field of the same name. */
function own(value: unknown, key: string): unknown {
  return value !== null && typeof value === "object" && !Array.isArray(value) && Object.hasOwn(value, key)
    ? (value as Record<string, unknown>)[key]
    : undefined;
}

/**
 * An unmapped array or object field, which Parquet datasets (ours among them) keep as JSON text; text that
 * is not JSON is left for the schema to refuse.
 */
function ownJson(value: unknown, key: string): unknown {
  const found = own(value, key);
  if (typeof found !== "string") return found;
  try {
    return JSON.parse(found);
  } catch {
    return found;
  }
}

/** Where each sample field came from, to name it in messages: a field path per sample path prefix. */
type Origins = Map<string, string>;

function chatFields(value: unknown, mapping: FieldMapping, origins: Origins): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (mapping.turns) {
    const messages: { role: string; content: string }[] = [];
    mapping.turns.forEach((turn, k) => {
      const what = `turn ${k + 1} (${turn.role})`;
      const content = turn.optional ? optionalText(value, turn.field) : requiredText(value, turn.field, what);
      if (!turn.optional && content !== undefined && content.trim() === "")
        throw new MappingError(`${what}: ${fieldName(turn.field)} is blank`);
      if (content === undefined) return;
      origins.set(`messages.${messages.length}`, fieldName(turn.field));
      messages.push({ role: turn.role, content });
    });
    out.messages = messages;
    origins.set("messages", "mapping.turns");
  } else if (mapping.messages) {
    out.messages = jsonValue(value, mapping.messages, "messages");
    origins.set("messages", fieldName(mapping.messages));
  } else {
    out.messages = ownJson(value, "messages");
  }
  if (mapping.tools) {
    const tools = jsonValue(value, mapping.tools, "tools");
    if (tools !== undefined) out.tools = tools;
    origins.set("tools", fieldName(mapping.tools));
  } else if (own(value, "tools") !== undefined) {
    out.tools = ownJson(value, "tools");
  }
  return out;
}

function textFields(value: unknown, mapping: FieldMapping, origins: Origins): Record<string, unknown> {
  if (mapping.text === undefined) return { text: own(value, "text") };
  const paths = typeof mapping.text === "string" ? [mapping.text] : mapping.text;
  const parts = paths.map((path) => optionalText(value, path)).filter((part) => part !== undefined);
  if (parts.length === 0) {
    const named = paths.map(fieldName).join(", ");
    throw new MappingError(`text: ${named} ${paths.length > 1 ? "are all" : "is"} missing or blank`);
  }
  origins.set("text", paths.map(fieldName).join(" + "));
  return { text: parts.join("\n\n") };
}

function rlPromptFields(value: unknown, mapping: FieldMapping, origins: Origins): Record<string, unknown> {
  let prompt: unknown;
  if (mapping.prompt) {
    prompt = [{ role: "user", content: requiredText(value, mapping.prompt, "prompt") }];
    origins.set("prompt", fieldName(mapping.prompt));
  } else if (mapping.promptMessages) {
    prompt = jsonValue(value, mapping.promptMessages, "prompt");
    origins.set("prompt", fieldName(mapping.promptMessages));
  } else {
    prompt = own(value, "prompt");
    // RL datasets often keep the prompt as one string: it is the user's turn.
    if (typeof prompt === "string") prompt = [{ role: "user", content: prompt }];
  }
  if (mapping.system) {
    const system = optionalText(value, mapping.system);
    if (system !== undefined && Array.isArray(prompt)) {
      prompt = [{ role: "system", content: system }, ...prompt];
      origins.set("prompt.0", fieldName(mapping.system));
    }
  }
  let rewardModel: unknown;
  if (mapping.groundTruth) {
    const truth = getPath(value, mapping.groundTruth);
    if (truth === undefined || truth === null)
      throw new MappingError(
        `ground truth: ${fieldName(mapping.groundTruth)} is ${truth === undefined ? "missing" : "null"}`,
      );
    rewardModel = {
      style: mapping.rewardStyle ?? "rule",
      ground_truth: typeof truth === "string" ? truth : JSON.stringify(truth),
    };
    origins.set("reward_model.ground_truth", fieldName(mapping.groundTruth));
  } else {
    rewardModel = own(value, "reward_model");
    if (mapping.rewardStyle && rewardModel !== null && typeof rewardModel === "object")
      rewardModel = { ...rewardModel, style: mapping.rewardStyle };
  }
  return { prompt, reward_model: rewardModel };
}

const kindFields: Record<
  DatasetKind,
  (value: unknown, mapping: FieldMapping, origins: Origins) => Record<string, unknown>
> = {
  chat: chatFields,
  text: textFields,
  "rl-prompt": rlPromptFields,
};

function commonFields(value: unknown, mapping: FieldMapping, origins: Origins): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const id = mapping.id ? getPath(value, mapping.id) : own(value, "id");
  if (mapping.id) {
    if (id === undefined || id === null || id === "")
      throw new MappingError(
        `id: ${fieldName(mapping.id)} is ${id === "" ? "blank" : id === undefined ? "missing" : "null"}`,
      );
    origins.set("id", fieldName(mapping.id));
  }
  if (typeof id === "number" && Number.isFinite(id)) out.id = String(id);
  else if (id !== undefined && id !== null) out.id = id;
  if (mapping.meta) {
    const meta: Record<string, unknown> = {};
    for (const [key, path] of Object.entries(mapping.meta)) {
      const found = getPath(value, path);
      if (found !== undefined) meta[key] = found;
    }
    out.meta = meta;
    origins.set("meta", "mapping.meta");
  } else if (own(value, "meta") !== undefined) {
    out.meta = ownJson(value, "meta");
  }
  return out;
}

/** Where the value at a sample path came from: the longest mapped prefix, else the record's field of that name. */
function originOf(path: readonly PropertyKey[], origins: Origins): string {
  for (let n = path.length; n > 0; n--) {
    const origin = origins.get(path.slice(0, n).join("."));
    if (origin) return ` (from ${origin})`;
  }
  return path.length ? ` (the record's "${String(path[0])}" field)` : "";
}

/**
 * A record → the input for a sample of `kind`, or the reason it cannot be one. Sample fields the mapping
 * does not name come from the record's fields of the same name; `source` is left to the caller.
 */
export function mapRecord(kind: DatasetKind, value: unknown, mapping: FieldMapping = {}): MapResult {
  const origins: Origins = new Map();
  let input: Record<string, unknown>;
  try {
    input = { ...commonFields(value, mapping, origins), ...kindFields[kind](value, mapping, origins) };
  } catch (error) {
    if (error instanceof MappingError) return { ok: false, reason: "malformed", message: error.message };
    throw error;
  }
  for (const key of Object.keys(input)) if (input[key] === undefined) delete input[key];
  const parsed = inputSchema(kind).safeParse(input);
  if (parsed.success) return { ok: true, input: parsed.data };
  const issues = parsed.error.issues.slice(0, 5);
  const unmapped = (issue: (typeof issues)[number]) =>
    issue.path.length === 1 &&
    input[String(issue.path[0])] === undefined &&
    !origins.has(String(issue.path[0]));
  const message = issues
    .map((issue) => {
      const top = String(issue.path[0] ?? "");
      if (unmapped(issue)) return `${top}: the record has no "${top}" field, and the mapping names none`;
      const where = issue.path.length ? issue.path.map(String).join(".") : "(record)";
      return `${where}${originOf(issue.path, origins)}: ${issue.message}`;
    })
    .join("; ");
  // A field the mapping found nowhere makes the record malformed; values that are there but wrong, invalid.
  return { ok: false, reason: issues.every(unmapped) ? "malformed" : "invalid", message };
}
