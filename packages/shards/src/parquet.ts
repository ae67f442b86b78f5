/**
 * @module Parquet shard encoding: sample rows ↔ Arrow (with the column types declared in `schemas/`) ↔
 * Parquet (parquet-wasm, ZSTD). Writing is deterministic: the same rows give the same bytes.
 */
import { arrowSchemas, type DatasetKind, type Sample } from "@sovereign/schemas";
import {
  makeData,
  RecordBatch,
  Struct,
  Table,
  tableFromIPC,
  tableToIPC,
  type Vector,
  vectorFromArray,
} from "apache-arrow";
import {
  Compression,
  readParquet,
  Table as WasmTable,
  WriterPropertiesBuilder,
  WriterVersion,
  writeParquet,
} from "parquet-wasm";

/**
 * Written into every file's footer instead of the library's default (which carries its version string), so
 * a dependency bump alone does not change shard bytes.
 */
export const PARQUET_CREATED_BY = "sovereign.dataset/v1";

/** Rows per row group: small enough that reading one sample decodes little, large enough to compress well. */
export const ROW_GROUP_ROWS = 1024;

type ArrowRow = Record<string, unknown>;

/** Flatten a sample to the Arrow row shape: JSON columns become strings, optional fields become null. */
function toArrowRow(kind: DatasetKind, sample: Sample): ArrowRow {
  const base = { id: sample.id, source: sample.source, meta: JSON.stringify(sample.meta) };
  switch (kind) {
    case "chat": {
      const s = sample as Extract<Sample, { messages: unknown }>;
      return {
        ...base,
        messages: s.messages.map((m) => ({
          role: m.role,
          content: m.content,
          tool_calls: "tool_calls" in m && m.tool_calls ? m.tool_calls : null,
          tool_call_id: "tool_call_id" in m && m.tool_call_id !== undefined ? m.tool_call_id : null,
          name: "name" in m && m.name !== undefined ? m.name : null,
        })),
        tools: s.tools === null ? null : JSON.stringify(s.tools),
      };
    }
    case "text":
      return { ...base, text: (sample as Extract<Sample, { text: unknown }>).text };
    case "rl-prompt": {
      const s = sample as Extract<Sample, { prompt: unknown }>;
      return { ...base, prompt: s.prompt, reward_model: s.reward_model };
    }
  }
}

export function samplesToArrow(kind: DatasetKind, samples: readonly Sample[]): Table {
  const schema = arrowSchemas[kind];
  const rows = samples.map((s) => toArrowRow(kind, s));
  const children = schema.fields.map((field) => {
    const vector: Vector = vectorFromArray(
      rows.map((r) => r[field.name]),
      field.type,
    );
    const [data] = vector.data;
    if (vector.data.length !== 1 || !data) throw new Error(`column ${field.name} built in several chunks`);
    return data;
  });
  const batch = new RecordBatch(
    schema,
    makeData({ type: new Struct(schema.fields), length: rows.length, nullCount: 0, children }),
  );
  return new Table(schema, [batch]);
}

export function encodeParquet(table: Table): Uint8Array {
  const properties = new WriterPropertiesBuilder()
    .setCompression(Compression.ZSTD)
    .setCreatedBy(PARQUET_CREATED_BY)
    .setWriterVersion(WriterVersion.V2)
    .setMaxRowGroupSize(ROW_GROUP_ROWS)
    .build();
  const wasmTable = WasmTable.fromIPCStream(tableToIPC(table, "stream"));
  return writeParquet(wasmTable, properties);
}

export function writeShard(kind: DatasetKind, samples: readonly Sample[]): Uint8Array {
  return encodeParquet(samplesToArrow(kind, samples));
}

/** Decode rows [offset, offset + limit) of a shard (all rows when no window is given). */
export function readShardRows(
  kind: DatasetKind,
  bytes: Uint8Array,
  window?: { offset: number; limit: number },
): Sample[] {
  const wasmTable = readParquet(bytes, window ? { offset: window.offset, limit: window.limit } : undefined);
  const table = tableFromIPC(wasmTable.intoIPCStream());
  const out: Sample[] = [];
  const columns = Object.fromEntries(table.schema.fields.map((f) => [f.name, table.getChild(f.name)]));
  for (let i = 0; i < table.numRows; i++) {
    const row: Record<string, unknown> = {};
    for (const [name, column] of Object.entries(columns)) row[name] = toPlain(column?.get(i));
    out.push(fromArrowRow(kind, row));
  }
  return out;
}

/** Arrow values (Vectors, StructRows) to plain JS, dropping null struct members. */
function toPlain(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value !== "object") return value;
  if (isVector(value)) return Array.from(value, toPlain);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries((value as { toJSON(): Record<string, unknown> }).toJSON())) {
    const plain = toPlain(v);
    if (plain !== null) out[k] = plain;
  }
  return out;
}

function isVector(value: object): value is Iterable<unknown> {
  return typeof (value as { toArray?: unknown }).toArray === "function" && Symbol.iterator in value;
}

function fromArrowRow(kind: DatasetKind, row: Record<string, unknown>): Sample {
  const base = {
    id: row.id as string,
    source: row.source as string,
    meta: JSON.parse(row.meta as string) as Record<string, unknown>,
  };
  switch (kind) {
    case "chat": {
      const messages = (row.messages as Record<string, unknown>[]).map((m) =>
        // Assistant turns that only call tools carry content: null; keep it so the row round-trips.
        m.role === "assistant" && m.content === undefined ? { ...m, content: null } : m,
      );
      return {
        ...base,
        messages,
        tools: row.tools === null ? null : JSON.parse(row.tools as string),
      } as Sample;
    }
    case "text":
      return { ...base, text: row.text as string };
    case "rl-prompt":
      return { ...base, prompt: row.prompt, reward_model: row.reward_model } as Sample;
  }
}

/** Number of rows recorded in a shard's footer (no data pages decoded). */
export function shardRowCount(bytes: Uint8Array): number {
  return tableFromIPC(readParquet(bytes, { limit: 0 }).intoIPCStream()).numRows;
}
