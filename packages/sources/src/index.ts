/**
 * @module Pipeline sources: local files and pinned Hugging Face datasets read as one ordered stream of located
 * records, and records mapped onto sample inputs.
 */
export { DEFAULT_MAX_CSV_ROW_BYTES, readCsv } from "./csv";
export { SourceError, type SourceErrorCode } from "./errors";
export { besideFile, type ResolveContext, resolveFiles, type SourceFile, sourcePathProblems } from "./files";
export { DEFAULT_HUB_URL, fetchHubFile, type HubContext, type HubFile, hubLabel, listHubFiles } from "./hub";
export { DEFAULT_MAX_JSON_BYTES, readJsonArray } from "./json";
export { getPath, type MapResult, mapRecord, type SampleInput } from "./mapping";
export {
  builtinReaders,
  formatsByExtension,
  type ReaderOptions,
  type ReadLimits,
  type RecordReader,
  readerFor,
  readParquet,
} from "./readers";
export {
  readSource,
  type SourceContext,
  type SourceFileEvent,
  type SourceRecord,
  sourceFiles,
} from "./source";
export { readText } from "./text";
