/**
 * @module Source specs: where a pipeline reads its records (local files, or a dataset on the Hugging Face Hub
 * pinned to a commit), how each file is parsed, and how a record's fields map onto a sample.
 *
 * A spec must name the same records every time it is read, so that a job can be restarted and a version
 * rebuilt: local paths are sorted, and a Hub source names a commit, never a branch.
 */
import { RE2JS, RE2JSException } from "re2js";
import { z } from "zod";
import { SplitName } from "./samples";

/**
 * Where a value sits in a record: dot-separated object keys and array indices (`turns.0.text`), or `$` for
 * the whole record (`$.turns.0.text` is the same as `turns.0.text`). Keys that contain a dot cannot be
 * addressed.
 */
export const FieldPath = z
  .string()
  .regex(/^(\$|[^.]+(\.[^.]+)*)$/, 'a field path is dot-separated keys or indices ("a.b.0.c"), or "$"');
export type FieldPath = z.infer<typeof FieldPath>;

/** One chat turn taken from one field of the record. */
export const ChatTurnMapping = z.strictObject({
  role: z.enum(["system", "user", "assistant"]),
  /** The field holding the turn's text. */
  field: FieldPath,
  /** An optional turn that is missing or blank is left out; a required one fails the record. */
  optional: z.boolean().optional(),
});
export type ChatTurnMapping = z.infer<typeof ChatTurnMapping>;

/**
 * How a record becomes a sample input. A sample field the mapping does not name is taken from the record's
 * field of the same name when there is one, so records already shaped like samples need no mapping.
 */
export const FieldMapping = z
  .strictObject({
    /** The sample id; numbers are written as decimal text. Without it the builder derives one from the content. */
    id: FieldPath.optional(),
    /** Provenance kept in the sample's `meta`: meta key → field. Missing fields are left out. */
    meta: z.record(z.string().min(1), FieldPath).optional(),

    /** chat: an OpenAI-style messages array (or a JSON string holding one). */
    messages: FieldPath.optional(),
    /** chat: one turn per field, in this order; the alternative to `messages`. */
    turns: z.array(ChatTurnMapping).min(1).optional(),
    /** chat: OpenAI tool definitions (an array, a JSON string holding one, or null). */
    tools: FieldPath.optional(),

    /** text: the document; several fields are joined with a blank line, leaving out missing or blank ones. */
    text: z.union([FieldPath, z.array(FieldPath).min(1)]).optional(),

    /** rl-prompt: the user's prompt text. */
    prompt: FieldPath.optional(),
    /** rl-prompt: the prompt as a `{role, content}` array (or a JSON string holding one); the alternative to `prompt`. */
    promptMessages: FieldPath.optional(),
    /** rl-prompt: a system turn put before the prompt; left out when missing or blank. */
    system: FieldPath.optional(),
    /** rl-prompt: what the reward compares against; strings as they are, other JSON values as JSON text. */
    groundTruth: FieldPath.optional(),
    /** rl-prompt: how the reward is computed; `rule` unless given. */
    rewardStyle: z.enum(["rule", "model"]).optional(),
  })
  .refine((m) => m.messages === undefined || m.turns === undefined, {
    message: "a mapping takes chat turns from `messages` or from `turns`, not both",
    path: ["turns"],
  })
  .refine((m) => m.prompt === undefined || m.promptMessages === undefined, {
    message: "a mapping takes the RL prompt from `prompt` or from `promptMessages`, not both",
    path: ["promptMessages"],
  });
export type FieldMapping = z.infer<typeof FieldMapping>;

/** Formats the readers know; a caller may register more by name (a parser for one legal corpus, say). */
export const builtinFormats = ["jsonl", "json", "csv", "tsv", "parquet", "text"] as const;

/** A built-in format or the name of one the caller registers. Inferred from each file's extension when absent. */
export const SourceFormat = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]*$/, "a format name is lowercase letters, digits, - and _");
export type SourceFormat = z.infer<typeof SourceFormat>;

export const CsvSourceOptions = z.strictObject({
  /** One ASCII character between fields; `,` (or a tab for `tsv`) unless given. */
  delimiter: z
    .string()
    .refine(
      (d) => d.length === 1 && d.charCodeAt(0) < 0x80 && !'"\r\n'.includes(d),
      "the delimiter is one ASCII character other than a quote or a line break",
    )
    .optional(),
  /** Whether the first row names the columns (records are then objects; otherwise arrays). True unless given. */
  header: z.boolean().optional(),
});
export type CsvSourceOptions = z.infer<typeof CsvSourceOptions>;

/**
 * The most instructions a split pattern may compile to on RE2 (`programSize`): RE2's time is linear in the
 * line but grows with the program when its automaton falls back to simulation, so a pattern such as
 * `(.{0,100}a){10}$` (2,000 instructions) would still hold the reader for seconds per megabyte.
 */
export const MAX_SPLIT_PATTERN_PROGRAM = 256;

/** Why RE2 cannot run `pattern` as a split pattern; undefined when it can. */
export function splitPatternProblem(pattern: string): string | undefined {
  let program: number;
  try {
    program = RE2JS.compile(pattern).programSize();
  } catch (error) {
    if (!(error instanceof RE2JSException)) throw error;
    return `not a regular expression RE2 can run (RE2 syntax: no backreferences or lookaround): ${error.message}`;
  }
  if (program > MAX_SPLIT_PATTERN_PROGRAM)
    return `the pattern compiles to ${program} RE2 instructions, over the limit of ${MAX_SPLIT_PATTERN_PROGRAM}: use smaller counted repeats ({n}) or fewer alternatives`;
  return undefined;
}

/**
 * Where one document ends and the next begins in a plain-text file: the whole file, paragraphs separated by
 * blank lines, each non-blank line, or a line matching `pattern` (RE2 syntax, tested against each line on its
 * own, e.g. `^มาตรา`).
 */
export const TextSplitRule = z.union([
  z.enum(["file", "blank-lines", "lines"]),
  z.strictObject({
    pattern: z.string().superRefine((pattern, ctx) => {
      const problem = splitPatternProblem(pattern);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    }),
  }),
]);
export type TextSplitRule = z.infer<typeof TextSplitRule>;

export const TextSourceOptions = z.strictObject({
  /** How a text file is cut into documents; one document per file unless given. */
  split: TextSplitRule.optional(),
});
export type TextSourceOptions = z.infer<typeof TextSourceOptions>;

const SourceName = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/,
    "a source name is letters, digits, '.', '-' and '_' (at most 128)",
  );

const SourceCommon = {
  /** Names the source in records, errors and provenance. */
  name: SourceName,
  /** How every file is parsed; inferred from each file's extension when absent. */
  format: SourceFormat.optional(),
  /** Options for `csv` and `tsv` files. */
  csv: CsvSourceOptions.optional(),
  /** Options for `text` files. */
  text: TextSourceOptions.optional(),
  /** How records become sample inputs; records already shaped like samples need none. */
  mapping: FieldMapping.optional(),
  /** Rank of this source for deduplication's keep rules, when copies of a sample come from several sources. */
  priority: z.int().optional(),
  /** The split its samples go to. */
  split: SplitName.optional(),
};

export const FilesSource = z.strictObject({
  type: z.literal("files"),
  /**
   * Files, folders (every file below, hidden ones left out) and globs (`*` and `?` within a name, `**` for
   * any number of folders), relative to the pipeline's base directory. Each must match at least one file. A run
   * queued over HTTP reads only below the curator's source roots (links followed).
   */
  paths: z.array(z.string().min(1)).min(1),
  ...SourceCommon,
});
export type FilesSource = z.infer<typeof FilesSource>;

const COMMIT_SHA = /^[0-9a-f]{40}$/;

export const HuggingFaceSource = z.strictObject({
  type: z.literal("huggingface"),
  /** The dataset repository, `owner/name`. */
  repo: z
    .string()
    .regex(
      /^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/,
      'a Hugging Face dataset repo is "owner/name"',
    ),
  /** The commit to read, as its full 40-character sha: a branch or tag moves, and the data would change under the spec. */
  revision: z.string().regex(COMMIT_SHA, {
    error: (issue) =>
      `revision must be a full 40-character commit sha, got ${JSON.stringify(issue.input)}: pin the commit ` +
      "(the Hub shows it in the repo's history) so the source reads the same data every time",
  }),
  /** Files in the repo, as paths, folders or globs (same syntax as local paths). */
  files: z.array(z.string().min(1)).min(1),
  ...SourceCommon,
});
export type HuggingFaceSource = z.infer<typeof HuggingFaceSource>;

/**
 * The samples of a dataset version this curator built: the seeds of a generated set, or a set re-filtered. The
 * version is pinned by its manifest hash; a spec may leave it out, and the run then reads the dataset's latest
 * committed or published version, written into the run's spec (and added to its parents) when it is queued.
 */
export const DatasetSource = z.strictObject({
  type: z.literal("dataset"),
  dataset: z.string().min(1),
  version: z
    .string()
    .regex(/^[0-9a-f]{64}$/, "a version is the sha256 of its manifest: 64 lowercase hex digits")
    .optional(),
  /** Only these splits of the version; all of them when absent. */
  splits: z.array(SplitName).min(1).optional(),
  name: SourceName,
  mapping: FieldMapping.optional(),
  priority: z.int().optional(),
  split: SplitName.optional(),
});
export type DatasetSource = z.infer<typeof DatasetSource>;

export const SourceSpec = z.discriminatedUnion("type", [FilesSource, HuggingFaceSource, DatasetSource]);
export type SourceSpec = z.infer<typeof SourceSpec>;
