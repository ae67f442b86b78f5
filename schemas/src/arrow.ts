/**
 * @module Arrow column types of each dataset kind, declared once: Parquet shards are written and read with
 * exactly these, because `tableFromJSON` cannot infer nested chat columns.
 */
import { Field, List, Schema, Struct, Utf8 } from "apache-arrow";
import type { DatasetKind } from "./samples";

const utf8 = (name: string, nullable = false) => new Field(name, new Utf8(), nullable);
const listOf = (name: string, item: Struct, nullable: boolean) =>
  new Field(name, new List(new Field("item", item, false)), nullable);

const toolCallType = new Struct([
  utf8("id"),
  utf8("type"),
  new Field("function", new Struct([utf8("name"), utf8("arguments")]), false),
]);

const messageType = new Struct([
  utf8("role"),
  utf8("content", true),
  listOf("tool_calls", toolCallType, true),
  utf8("tool_call_id", true),
  utf8("name", true),
]);

const promptMessageType = new Struct([utf8("role"), utf8("content")]);

const common = (fields: Field[]) => new Schema([utf8("id"), utf8("source"), ...fields, utf8("meta")]);

/**
 * `meta`, `tools` and `reward_model.ground_truth` are JSON strings: their shape varies from row to row and
 * Parquet needs one static type per column.
 */
export const arrowSchemas: Record<DatasetKind, Schema> = {
  chat: common([listOf("messages", messageType, false), utf8("tools", true)]),
  text: common([utf8("text")]),
  "rl-prompt": common([
    listOf("prompt", promptMessageType, false),
    new Field("reward_model", new Struct([utf8("style"), utf8("ground_truth")]), false),
  ]),
};

/** A plain description of a schema (names, type names, nullability), the input of its fingerprint. */
export function describeSchema(schema: Schema): unknown {
  const describeField = (f: Field): unknown => ({
    name: f.name,
    type: String(f.type),
    nullable: f.nullable,
    ...(f.type.children?.length ? { children: f.type.children.map(describeField) } : {}),
  });
  return schema.fields.map(describeField);
}
