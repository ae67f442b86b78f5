/**
 * @module The format registry: which reader parses a file, by the source's `format` or the file's extension,
 * with formats the caller registers (a parser for one legal corpus, say) alongside the built-in ones.
 */
import { extname } from "node:path";
import type { CsvSourceOptions, TextSourceOptions } from "@sovereign/schemas";
import { arrowToPlain, type RawRecord, readJsonl, readParquetFile } from "@sovereign/shards";
import { readCsv } from "./csv";
import { SourceError } from "./errors";
import type { SourceFile } from "./files";
import { readJsonArray } from "./json";
import { readText } from "./text";

/**
 * Size limits that guard memory: whole-file JSON, a CSV quoted field that may never close, and a JSONL line
 * (a longer one is a `too-long` record, not read).
 */
export type ReadLimits = { maxJsonBytes?: number; maxCsvRowBytes?: number; maxLineBytes?: number };

/** What a source tells its readers; a reader uses the part for its format. */
export type ReaderOptions = {
  csv?: CsvSourceOptions;
  text?: TextSourceOptions;
  limits?: ReadLimits;
  /** The source's roots when it is confined, for a reader that opens a file beside its own (`besideFile`). */
  roots?: readonly string[];
};

/** Parses one file into records located `label:line` or `label#row`; bad records are yielded, not thrown. */
export type RecordReader = (file: SourceFile, options: ReaderOptions) => AsyncIterable<RawRecord>;

/** Parquet rows as plain JSON (Arrow vectors as arrays, 64-bit integers as numbers). */
export async function* readParquet(file: SourceFile): AsyncGenerator<RawRecord> {
  for await (const record of readParquetFile(file.path, file.label)) {
    yield record.ok ? { ...record, value: arrowToPlain(record.value) } : record;
  }
}

export const builtinReaders = {
  jsonl: (file, options) =>
    readJsonl(file.path, file.label, {
      ...(options.limits?.maxLineBytes !== undefined ? { maxLineBytes: options.limits.maxLineBytes } : {}),
    }),
  json: readJsonArray,
  csv: readCsv,
  tsv: (file, options) =>
    readCsv(file, { ...options, csv: { ...options.csv, delimiter: options.csv?.delimiter ?? "\t" } }),
  parquet: readParquet,
  text: readText,
} satisfies Record<string, RecordReader>;

/** Formats inferred from extensions, for sources that name none. */
export const formatsByExtension: Record<string, keyof typeof builtinReaders> = {
  ".jsonl": "jsonl",
  ".ndjson": "jsonl",
  ".json": "json",
  ".csv": "csv",
  ".tsv": "tsv",
  ".parquet": "parquet",
  ".txt": "text",
  ".md": "text",
};

/** The reader for a file: the source's format (a registered one first, then built-in), or the extension's. */
export function readerFor(
  file: SourceFile,
  format: string | undefined,
  registered: Record<string, RecordReader> = {},
): { format: string; reader: RecordReader } {
  const readers: Record<string, RecordReader> = { ...builtinReaders, ...registered };
  const known = Object.keys(readers).sort().join(", ");
  if (format !== undefined) {
    const reader = readers[format];
    if (!reader)
      throw new SourceError("SOURCE_UNKNOWN_FORMAT", `unknown format "${format}"; known formats: ${known}`);
    return { format, reader };
  }
  const extension = extname(file.label).toLowerCase();
  const inferred = formatsByExtension[extension];
  if (!inferred) {
    throw new SourceError(
      "SOURCE_UNKNOWN_FORMAT",
      `${file.label}: no format for the extension "${extension}"; set the source's format to one of: ${known}`,
    );
  }
  return { format: inferred, reader: readers[inferred] as RecordReader };
}
