/**
 * @module Parquet shard encoding: sample rows ↔ Arrow (with the column types declared in `schemas/`) ↔
 * Parquet (parquet-wasm, ZSTD). Writing is deterministic: the same rows give the same bytes.
 */
import { arrowSchemas, type DatasetKind, type Sample } from "@sovereign/schemas";
import {
  type Data,
  DataType,
  type List,
  makeData,
  RecordBatch,
  Struct,
  Table,
  tableFromIPC,
  tableToIPC,
  type Utf8,
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
  let children: Data[];
  try {
    children = schema.fields.map((field) =>
      buildColumn(
        field.type,
        rows.map((r) => r[field.name]),
      ),
    );
  } catch (error) {
    if (!(error instanceof UnsupportedValue)) throw error;
    // A shape the direct builders do not take (e.g. a number where a string belongs): Arrow's own builders
    // coerce it, and the bytes must not depend on which path ran.
    children = schema.fields.map((field) => arrowBuilt(field.name, field.type, rows));
  }
  const batch = new RecordBatch(
    schema,
    makeData({ type: new Struct(schema.fields), length: rows.length, nullCount: 0, children }),
  );
  return new Table(schema, [batch]);
}

function arrowBuilt(name: string, type: DataType, rows: readonly ArrowRow[]): Data {
  const vector: Vector = vectorFromArray(
    rows.map((r) => r[name]),
    type,
  );
  const [data] = vector.data;
  if (vector.data.length !== 1 || !data) throw new Error(`column ${name} built in several chunks`);
  return data;
}

/** A value the direct column builders leave to Arrow's builders. */
class UnsupportedValue extends Error {}

/**
 * Column data built straight into Arrow buffers. `vectorFromArray` goes through a generic builder per value
 * and was most of the write time; this produces the same arrays (nulls as Arrow's builders encode them:
 * zero-length slots, a validity bitmap only when a null occurs) for the types our schemas use.
 */
function buildColumn(type: DataType, values: readonly unknown[]): Data {
  if (DataType.isUtf8(type)) return utf8Column(type, values);
  if (DataType.isList(type)) return listColumn(type, values);
  if (DataType.isStruct(type)) return structColumn(type, values);
  throw new UnsupportedValue();
}

/** Validity bits for `length` slots, set one by one; kept only if a slot stays null. */
class Validity {
  readonly bits: Uint8Array;
  nullCount = 0;
  constructor(length: number) {
    this.bits = new Uint8Array((length + 7) >> 3);
  }
  valid(i: number): void {
    this.bits[i >> 3] = (this.bits[i >> 3] ?? 0) | (1 << (i & 7));
  }
  get bitmap(): Uint8Array | undefined {
    return this.nullCount > 0 ? this.bits : undefined;
  }
}

const MAX_INT32 = 2 ** 31 - 1;

function utf8Column(type: Utf8, values: readonly unknown[]): Data<Utf8> {
  const length = values.length;
  // At most 3 UTF-8 bytes per UTF-16 unit; pages never written to are never touched, so over-reserving is free.
  let capacity = 0;
  for (const value of values) {
    if (typeof value === "string") capacity += value.length * 3;
    else if (value !== null && value !== undefined) throw new UnsupportedValue();
  }
  const bytes = Buffer.allocUnsafe(capacity);
  const offsets = new Int32Array(length + 1);
  const validity = new Validity(length);
  let end = 0;
  for (let i = 0; i < length; i++) {
    const value = values[i];
    if (typeof value === "string") {
      end += bytes.write(value, end, "utf8");
      validity.valid(i);
    } else {
      validity.nullCount++;
    }
    if (end > MAX_INT32) throw new UnsupportedValue();
    offsets[i + 1] = end;
  }
  return makeData({
    type,
    length,
    nullCount: validity.nullCount,
    nullBitmap: validity.bitmap,
    valueOffsets: offsets,
    data: bytes.subarray(0, end),
  });
}

function listColumn(type: List, values: readonly unknown[]): Data<List> {
  const length = values.length;
  const offsets = new Int32Array(length + 1);
  const validity = new Validity(length);
  const items: unknown[] = [];
  for (let i = 0; i < length; i++) {
    const value = values[i];
    if (Array.isArray(value)) {
      for (let j = 0; j < value.length; j++) items.push(value[j]);
      validity.valid(i);
    } else if (value === null || value === undefined) {
      validity.nullCount++;
    } else {
      throw new UnsupportedValue();
    }
    offsets[i + 1] = items.length;
  }
  const itemType = type.children[0]?.type;
  if (!itemType) throw new UnsupportedValue();
  return makeData({
    type,
    length,
    nullCount: validity.nullCount,
    nullBitmap: validity.bitmap,
    valueOffsets: offsets,
    child: buildColumn(itemType, items),
  });
}

function structColumn(type: Struct, values: readonly unknown[]): Data<Struct> {
  const length = values.length;
  const validity = new Validity(length);
  for (let i = 0; i < length; i++) {
    const value = values[i];
    if (value === null || value === undefined) {
      validity.nullCount++;
    } else if (typeof value === "object" && !Array.isArray(value) && !(value instanceof Map)) {
      validity.valid(i);
    } else {
      throw new UnsupportedValue();
    }
  }
  // A null struct nulls its members too, as Arrow's struct builder does.
  const children = type.children.map((field) =>
    buildColumn(
      field.type,
      values.map((v) => (v === null || v === undefined ? null : (v as Record<string, unknown>)[field.name])),
    ),
  );
  return makeData({ type, length, nullCount: validity.nullCount, nullBitmap: validity.bitmap, children });
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

/** The Arrow table of rows [offset, offset + limit) of a shard (all rows when no window is given). */
export function readShardTable(bytes: Uint8Array, window?: { offset: number; limit: number }): Table {
  const wasmTable = readParquet(bytes, window ? { offset: window.offset, limit: window.limit } : undefined);
  return tableFromIPC(wasmTable.intoIPCStream());
}

/** Decode rows [offset, offset + limit) of a shard (all rows when no window is given). */
export function readShardRows(
  kind: DatasetKind,
  bytes: Uint8Array,
  window?: { offset: number; limit: number },
): Sample[] {
  const table = readShardTable(bytes, window);
  const names = table.schema.fields.map((f) => f.name);
  let columns: unknown[][];
  try {
    columns = names.map((_, c) => {
      const out: unknown[] = [];
      for (const chunk of table.getChildAt(c)?.data ?? []) plainColumn(chunk, out);
      return out;
    });
  } catch (error) {
    if (!(error instanceof UnsupportedValue)) throw error;
    columns = names.map((name) => {
      const column = table.getChild(name);
      return Array.from({ length: table.numRows }, (_, i) => arrowToPlain(column?.get(i)));
    });
  }
  const out: Sample[] = [];
  for (let i = 0; i < table.numRows; i++) {
    const row: Record<string, unknown> = {};
    for (let c = 0; c < names.length; c++) row[names[c] as string] = columns[c]?.[i] ?? null;
    out.push(fromArrowRow(kind, row));
  }
  return out;
}

/**
 * Unlike Arrow's own decoder, keeps a leading U+FEFF: a value that starts with one (real text does) must
 * read back exactly as it was written.
 */
const utf8Decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * Append a chunk's values, as `arrowToPlain` would give them, to `out`. Column-at-a-time over the raw buffers:
 * going through `Vector.get` and `StructRow.toJSON` for every value was most of the read time.
 */
function plainColumn(data: Data, out: unknown[]): void {
  if (data.offset !== 0) throw new UnsupportedValue();
  const { type, length } = data;
  const isNull = data.nullCount > 0 ? (i: number) => !data.getValid(i) : () => false;
  if (DataType.isUtf8(type)) {
    const { valueOffsets, values } = data as Data<Utf8>;
    for (let i = 0; i < length; i++) {
      out.push(isNull(i) ? null : utf8Decoder.decode(values.subarray(valueOffsets[i], valueOffsets[i + 1])));
    }
  } else if (DataType.isList(type)) {
    const { valueOffsets } = data as Data<List>;
    const child = data.children[0];
    if (!child) throw new UnsupportedValue();
    const items: unknown[] = [];
    plainColumn(child, items);
    for (let i = 0; i < length; i++) {
      out.push(isNull(i) ? null : items.slice(valueOffsets[i], valueOffsets[i + 1]));
    }
  } else if (DataType.isStruct(type)) {
    const names = (type as Struct).children.map((f) => f.name);
    const members = data.children.map((child) => {
      const values: unknown[] = [];
      plainColumn(child, values);
      return values;
    });
    for (let i = 0; i < length; i++) {
      if (isNull(i)) {
        out.push(null);
        continue;
      }
      const value: Record<string, unknown> = {};
      for (let m = 0; m < names.length; m++) {
        const member = members[m]?.[i];
        if (member !== null && member !== undefined) value[names[m] as string] = member;
      }
      out.push(value);
    }
  } else {
    throw new UnsupportedValue();
  }
}

/** Arrow values (Vectors, StructRows, bigints) as plain JSON values, dropping null struct members. */
export function arrowToPlain(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === "bigint") return Number(value);
  if (typeof value !== "object") return value;
  if (Array.isArray(value) || isVector(value)) return Array.from(value as Iterable<unknown>, arrowToPlain);
  const source =
    typeof (value as { toJSON?: unknown }).toJSON === "function"
      ? (value as { toJSON(): Record<string, unknown> }).toJSON()
      : (value as Record<string, unknown>);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(source)) {
    const plain = arrowToPlain(v);
    if (plain !== null) out[k] = plain;
  }
  return out;
}

function isVector(value: object): value is Iterable<unknown> {
  return typeof (value as { toArray?: unknown }).toArray === "function" && Symbol.iterator in value;
}

/**
 * Parquet stores a null struct member, which reading drops; an assistant turn that only calls tools
 * carries `content: null`, so put it back for the row to round-trip.
 */
export function restoreToolCallContent(messages: Record<string, unknown>[]): Record<string, unknown>[] {
  return messages.map((m) =>
    m.role === "assistant" && m.content === undefined ? { ...m, content: null } : m,
  );
}

function fromArrowRow(kind: DatasetKind, row: Record<string, unknown>): Sample {
  const base = {
    id: row.id as string,
    source: row.source as string,
    meta: JSON.parse(row.meta as string) as Record<string, unknown>,
  };
  switch (kind) {
    case "chat": {
      const messages = restoreToolCallContent(row.messages as Record<string, unknown>[]);
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
  // An empty projection reads no column chunks, but still yields the row count; `limit: 0` would yield none.
  return tableFromIPC(readParquet(bytes, { columns: [] }).intoIPCStream()).numRows;
}
