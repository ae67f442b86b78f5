/**
 * @module A source spec → one ordered stream of records over all its files. The order is fixed by the spec
 * (files sorted by label, records in file order), so a job that stopped after N records resumes with
 * `skip: N` and sees exactly the records it had not yet seen.
 */
import type { DatasetSource, FilesSource, HuggingFaceSource, SourceSpec } from "@sovereign/schemas";
import type { RawRecord } from "@sovereign/shards";
import { resolveFiles, type SourceFile } from "./files";
import { fetchHubFile, type HubFile, listHubFiles } from "./hub";
import { type ReaderOptions, type ReadLimits, type RecordReader, readerFor } from "./readers";

/** A record with the label of the file it came from. */
export type SourceRecord = RawRecord & { file: string };

/** Reported as each file is opened, before its first record. */
export type SourceFileEvent = {
  file: SourceFile;
  /** Position of the file in the source (from 0) and how many files it has. */
  index: number;
  count: number;
  format: string;
  /** Whether the file was just downloaded (Hub sources) rather than found locally or in the cache. */
  downloaded: boolean;
};

export type SourceContext = {
  /** Local paths of a `files` source are relative to this. */
  baseDir: string;
  /**
   * Confine `files` sources to these folders (`resolveFiles`): for a spec the server runs for someone else.
   * Absent: they read whatever this process may.
   */
  roots?: readonly string[];
  /** Hub downloads are kept here (under `hf/`). */
  cacheDir: string;
  /** Formats the caller adds, by name; a name the readers already know is replaced. */
  formats?: Record<string, RecordReader>;
  /** `HF_ENDPOINT` and `HF_TOKEN` are read from here; `process.env` unless given. */
  env?: NodeJS.ProcessEnv;
  /** Leave out the first N records, good and bad alike, as a resumed job has already processed them. */
  skip?: number;
  /** Raise or lower the readers' memory guards (512 MiB of whole-file JSON, 64 MiB CSV rows). */
  limits?: ReadLimits;
  onFile?: (event: SourceFileEvent) => void;
  /**
   * The records of a `dataset` source (a version's samples, each with its location), from whoever holds the
   * dataset registry; a `dataset` source cannot be read without it.
   */
  datasets?: (source: DatasetSource) => AsyncIterable<RawRecord>;
};

/** The files a spec names, in reading order; Hub files are listed (not yet downloaded). */
export async function sourceFiles(
  spec: FilesSource | HuggingFaceSource,
  ctx: SourceContext,
): Promise<(SourceFile | HubFile)[]> {
  return spec.type === "files" ? resolveFiles(spec, ctx) : listHubFiles(spec, ctx);
}

/**
 * Every record of a source, in a fixed order: files by label, records in file order. Formats are checked for
 * every file before the first is read, so a spec naming an unknown format fails at once.
 */
export async function* readSource(spec: SourceSpec, ctx: SourceContext): AsyncGenerator<SourceRecord> {
  if (spec.type === "dataset") {
    yield* readDatasetSource(spec, ctx);
    return;
  }
  const files = await sourceFiles(spec, ctx);
  const readers = files.map((file) => readerFor(file, spec.format, ctx.formats));
  const options: ReaderOptions = {
    ...(spec.csv ? { csv: spec.csv } : {}),
    ...(spec.text ? { text: spec.text } : {}),
    ...(ctx.limits ? { limits: ctx.limits } : {}),
    ...(ctx.roots ? { roots: ctx.roots } : {}),
  };
  let toSkip = ctx.skip ?? 0;
  for (const [index, file] of files.entries()) {
    const { format, reader } = readers[index] as (typeof readers)[number];
    const downloaded = spec.type === "huggingface" ? await fetchHubFile(spec, file as HubFile, ctx) : false;
    ctx.onFile?.({
      file: { path: file.path, label: file.label },
      index,
      count: files.length,
      format,
      downloaded,
    });
    for await (const record of reader(file, options)) {
      if (toSkip > 0) {
        toSkip--;
        continue;
      }
      yield { ...record, file: file.label };
    }
  }
}

async function* readDatasetSource(spec: DatasetSource, ctx: SourceContext): AsyncGenerator<SourceRecord> {
  if (!ctx.datasets)
    throw new Error(
      `source ${spec.name} reads dataset ${spec.dataset}, which only a run with the dataset registry (the curator) can read`,
    );
  let toSkip = ctx.skip ?? 0;
  const label = `dataset ${spec.dataset}@${spec.version?.slice(0, 12) ?? "latest"}`;
  for await (const record of ctx.datasets(spec)) {
    if (toSkip > 0) {
      toSkip--;
      continue;
    }
    yield { ...record, file: label };
  }
}
