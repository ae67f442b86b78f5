/**
 * @module Input files → validated samples: JSONL (one JSON object a line) and Parquet, read as a stream,
 * each bad record reported with its file and line (or row) and kept with its reason.
 */
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { type DatasetKind, inputSchemaFor, type Sample } from "@sovereign/schemas";
import { tableFromIPC } from "apache-arrow";
import { readParquet } from "parquet-wasm";
import type { z } from "zod";
import type { DatasetBuilder, RejectedRecord } from "./builder";
import { sampleContentHash } from "./builder";
import { arrowToPlain, restoreToolCallContent } from "./parquet";

export type InputFile = {
  path: string;
  split: string;
  /** `source` for records that name none; defaults to the file name. */
  source?: string;
  /** Format; inferred from the extension when absent. */
  format?: "jsonl" | "parquet";
};

export type RawRecord =
  | { ok: true; location: string; value: unknown }
  | { ok: false; location: string; reason: "malformed" | "invalid-utf8"; message: string; raw: string };

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Lines of a JSONL file as records, with 1-based line numbers. Blank lines are skipped; a BOM is dropped. */
export async function* readJsonl(path: string, label = path): AsyncGenerator<RawRecord> {
  let carry: Buffer = Buffer.alloc(0);
  let lineNo = 0;
  const decodeLine = (bytes: Buffer): RawRecord | undefined => {
    lineNo++;
    let line: string;
    const location = `${label}:${lineNo}`;
    try {
      line = utf8.decode(bytes);
    } catch {
      return {
        ok: false,
        location,
        reason: "invalid-utf8",
        message: "line is not valid UTF-8",
        raw: bytes.toString("latin1"),
      };
    }
    if (lineNo === 1 && line.charCodeAt(0) === 0xfeff) line = line.slice(1);
    if (line.endsWith("\r")) line = line.slice(0, -1);
    if (line.trim() === "") return undefined;
    try {
      return { ok: true, location, value: JSON.parse(line) };
    } catch (error) {
      return {
        ok: false,
        location,
        reason: "malformed",
        message: `not JSON: ${(error as Error).message}`,
        raw: line,
      };
    }
  };
  for await (const chunk of createReadStream(path)) {
    let data = carry.length ? Buffer.concat([carry, chunk as Buffer]) : (chunk as Buffer);
    let nl = data.indexOf(10);
    while (nl !== -1) {
      const record = decodeLine(data.subarray(0, nl));
      if (record) yield record;
      data = data.subarray(nl + 1);
      nl = data.indexOf(10);
    }
    carry = Buffer.from(data);
  }
  if (carry.length) {
    const record = decodeLine(carry);
    if (record) yield record;
  }
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
    const format = input.format ?? (input.path.toLowerCase().endsWith(".parquet") ? "parquet" : "jsonl");
    const defaultSource = input.source ?? basename(input.path);
    const records = format === "parquet" ? readParquetFile(input.path, label) : readJsonl(input.path, label);
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
