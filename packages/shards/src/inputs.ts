/**
 * @module Input files → validated samples: JSONL (one JSON object a line) and Parquet, read as a stream,
 * each bad record reported with its file and line (or row) and kept with its reason.
 */
import { open, readFile } from "node:fs/promises";
import { basename } from "node:path";
import { type DatasetKind, inputSchemaFor, type Sample } from "@sovereign/schemas";
import { tableFromIPC } from "apache-arrow";
import { readParquet } from "parquet-wasm";
import type { z } from "zod";
import type { DatasetBuilder, RejectedRecord } from "./builder";
import { sampleContentHash } from "./builder";
import { DEFAULT_MAX_LINE_BYTES, fileLines } from "./lines";
import { arrowToPlain, restoreToolCallContent } from "./parquet";

export type InputFile = {
  path: string;
  split: string;
  /** `source` for records that name none; defaults to the file name. */
  source?: string;
  /** Format; inferred from the extension when absent. Either way the file's bytes must agree. */
  format?: InputFormat;
};

export type RawRecord =
  | { ok: true; location: string; value: unknown }
  | {
      ok: false;
      location: string;
      reason: "malformed" | "invalid-utf8" | "too-long";
      message: string;
      raw: string;
    };

export type JsonlOptions = {
  /** Lines longer than this are refused as `too-long` records and not read (default 64 MiB). */
  maxLineBytes?: number;
};

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Lines of a JSONL file as records, with 1-based line numbers. Blank lines are skipped; a BOM is dropped. Time
 * and memory are linear in the length of a line; one over `maxLineBytes` is a `too-long` record keeping its
 * first bytes, and the next line is read as usual.
 */
export async function* readJsonl(
  path: string,
  label = path,
  options: JsonlOptions = {},
): AsyncGenerator<RawRecord> {
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  for await (const read of fileLines(path, maxLineBytes)) {
    const location = `${label}:${read.line}`;
    if (read.overlong) {
      yield {
        ok: false,
        location,
        reason: "too-long",
        message:
          `line is ${read.overlong.bytes} bytes, over the ${maxLineBytes}-byte limit (CURATOR_MAX_LINE_BYTES); ` +
          `it was not read, and its first ${read.overlong.head.length} bytes are kept`,
        raw: new TextDecoder().decode(read.overlong.head),
      };
      continue;
    }
    const { bytes } = read;
    let line: string;
    try {
      line = utf8.decode(bytes);
    } catch {
      yield {
        ok: false,
        location,
        reason: "invalid-utf8",
        message: "line is not valid UTF-8",
        raw: bytes.toString("latin1"),
      };
      continue;
    }
    if (read.line === 1 && line.charCodeAt(0) === 0xfeff) line = line.slice(1);
    if (line.endsWith("\r")) line = line.slice(0, -1);
    if (line.trim() === "") continue;
    try {
      yield { ok: true, location, value: JSON.parse(line) };
    } catch (error) {
      yield {
        ok: false,
        location,
        reason: "malformed",
        message: `not JSON: ${(error as Error).message}`,
        raw: line,
      };
    }
  }
}

export type InputFormat = "jsonl" | "parquet";

const PARQUET_MAGIC = Buffer.from("PAR1");

/** Whether a file's bytes are Parquet's: the magic `PAR1` at its start and at its end. */
export async function hasParquetMagic(path: string): Promise<boolean> {
  const handle = await open(path, "r");
  try {
    const { size } = await handle.stat();
    if (size < 2 * PARQUET_MAGIC.length) return false;
    const start = Buffer.alloc(PARQUET_MAGIC.length);
    const end = Buffer.alloc(PARQUET_MAGIC.length);
    await handle.read(start, 0, start.length, 0);
    await handle.read(end, 0, end.length, size - end.length);
    return start.equals(PARQUET_MAGIC) && end.equals(PARQUET_MAGIC);
  } finally {
    await handle.close();
  }
}

/** The format a file name declares: `.parquet` is Parquet, any other name JSONL. */
export function formatOfName(name: string): InputFormat {
  return name.toLowerCase().endsWith(".parquet") ? "parquet" : "jsonl";
}

/** A file whose bytes are not in the format its name (or its caller) declares. */
export class InputFormatError extends Error {
  readonly code = "INPUT_FORMAT";
}

/**
 * The format of an input, as declared (`format`, else the name's extension) and checked against its bytes; a
 * mismatch either way throws InputFormatError naming the file, rather than reading Parquet as lines of text
 * or text as Parquet.
 */
export async function checkedFormat(path: string, label: string, format?: InputFormat): Promise<InputFormat> {
  const declared = format ?? formatOfName(label);
  const parquet = await hasParquetMagic(path);
  if (declared === "parquet" && !parquet)
    throw new InputFormatError(
      `${label} is declared Parquet${format ? "" : " by its name"}, but its bytes are not Parquet (no "PAR1" at ` +
        "its start and end): upload a Parquet file, or give a JSONL file a name that does not end in .parquet",
    );
  if (declared === "jsonl" && parquet)
    throw new InputFormatError(
      `${label} is Parquet (its bytes start and end with "PAR1"), but is declared JSONL` +
        `${format ? "" : " by its name"}: name the file *.parquet`,
    );
  return declared;
}

/** Rows of a Parquet file as records (`file#row`, 1-based), nested values as plain JSON. */
export async function* readParquetFile(path: string, label = path): AsyncGenerator<RawRecord> {
  const bytes = await readFile(path);
  let table: ReturnType<typeof tableFromIPC>;
  try {
    table = tableFromIPC(readParquet(bytes).intoIPCStream());
  } catch (error) {
    yield {
      ok: false,
      location: label,
      reason: "malformed",
      message: `not a readable Parquet file: ${(error as Error).message}`,
      raw: "",
    };
    return;
  }
  for (let i = 0; i < table.numRows; i++) {
    yield {
      ok: true,
      location: `${label}#${i + 1}`,
      value: (table.get(i) as { toJSON(): unknown }).toJSON(),
    };
  }
}

/**
 * Parquet datasets (ours included) keep `meta`, `tools` and `ground_truth` as JSON strings; accept those
 * columns either as strings or as nested values.
 */
function decodeJsonColumns(kind: DatasetKind, value: Record<string, unknown>): Record<string, unknown> {
  const out = { ...value };
  if (typeof out.meta === "string") out.meta = JSON.parse(out.meta);
  if (kind === "chat") {
    if (typeof out.tools === "string") out.tools = JSON.parse(out.tools);
    if (Array.isArray(out.messages)) {
      out.messages = restoreToolCallContent(out.messages);
    }
  }
  return out;
}

export function formatIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length ? issue.path.join(".") : "(record)"}: ${issue.message}`)
    .join("; ");
}

export class InputRejectedError extends Error {
  readonly code = "INPUT_REJECTED";
  constructor(
    readonly rejected: RejectedRecord[],
    readonly total: number,
    readonly budget: number,
  ) {
    const shown = rejected.map((r) => `  ${r.location}: ${r.reason}: ${r.message}`).join("\n");
    const more = total > rejected.length ? `\n  … and ${total - rejected.length} more` : "";
    super(
      `${total} input record(s) rejected, over the allowed ${budget}:\n${shown}${more}\n` +
        "Fix these records, or allow a bad-record budget to keep the good ones (rejected records are kept with the version).",
    );
  }
}

export type IngestOptions = {
  /** How many bad records may be rejected (and kept aside) before the build fails. */
  maxRejected?: number;
  /** Maps a label for messages (e.g. the name the caller knows the file by). */
  labelOf?: (input: InputFile) => string;
  /** JSONL lines longer than this are refused records (default 64 MiB). */
  maxLineBytes?: number;
};

const REPORTED_REJECTIONS = 50;

/** Read every input into the builder; throws InputRejectedError once rejections exceed the budget. */
export async function ingestFiles(
  builder: DatasetBuilder,
  kind: DatasetKind,
  inputs: readonly InputFile[],
  options: IngestOptions = {},
): Promise<void> {
  const budget = options.maxRejected ?? 0;
  const schema = inputSchemaFor(kind);
  const reported: RejectedRecord[] = [];
  let rejected = 0;
  // Past the budget the build is lost, but reading goes on (validating only) so the error lists every bad record.
  let overBudget = false;
  const reject = async (record: RejectedRecord) => {
    rejected++;
    if (reported.length < REPORTED_REJECTIONS) reported.push(record);
    if (rejected > budget) overBudget = true;
    if (!overBudget) await builder.reject(record);
  };
  for (const input of inputs) {
    const label = options.labelOf?.(input) ?? input.path;
    const format = await checkedFormat(input.path, label, input.format);
    const defaultSource = input.source ?? basename(input.path);
    const records =
      format === "parquet"
        ? readParquetFile(input.path, label)
        : readJsonl(input.path, label, {
            ...(options.maxLineBytes !== undefined ? { maxLineBytes: options.maxLineBytes } : {}),
          });
    for await (const record of records) {
      if (!record.ok) {
        await reject({
          reason: record.reason,
          location: record.location,
          message: record.message,
          record: record.raw,
        });
        continue;
      }
      let value = record.value;
      try {
        if (format === "parquet")
          value = decodeJsonColumns(kind, arrowToPlain(value) as Record<string, unknown>);
      } catch (error) {
        await reject({
          reason: "malformed",
          location: record.location,
          message: (error as Error).message,
          record: value,
        });
        continue;
      }
      const parsed = schema.safeParse(value);
      if (!parsed.success) {
        await reject({
          reason: "invalid",
          location: record.location,
          message: formatIssues(parsed.error),
          record: value,
        });
      } else {
        const sample = completeSample(kind, parsed.data, defaultSource);
        // Past the budget nothing is added, but ids are still noted so later duplicates get reported too.
        const duplicate = overBudget
          ? builder.claimId(sample, record.location)
          : await builder.add(input.split, sample, record.location);
        if (duplicate) await reject(duplicate);
      }
    }
  }
  if (overBudget) throw new InputRejectedError(reported, rejected, budget);
}

/** Fill what an input may omit: `source` from the file, `meta` empty, `tools` null, `id` from the content. */
export function completeSample(
  kind: DatasetKind,
  input: Record<string, unknown>,
  defaultSource: string,
): Sample {
  const sample = {
    ...input,
    source: (input.source as string | undefined) ?? defaultSource,
    meta: (input.meta as Record<string, unknown> | undefined) ?? {},
    ...(kind === "chat" ? { tools: input.tools ?? null } : {}),
  } as Sample;
  if (sample.id === undefined) sample.id = sampleContentHash(kind, sample).slice(0, 32);
  return sample;
}
