/**
 * @module Plain-text files → documents: one per file, per paragraph, per line, or starting at each line that
 * matches a pattern (a statute's `มาตรา`). Documents are trimmed, blank ones are left out, and line breaks
 * come out as LF whatever the file used.
 *
 * The pattern comes from a spec, so it runs on RE2's engine (`re2js`): time linear in the line, whatever the
 * pattern, where a backtracking engine can spend seconds on one line (`^(a+)+$` over `aaa…a!`).
 */

import { splitPatternProblem, type TextSplitRule } from "@sovereign/schemas";
import type { RawRecord } from "@sovereign/shards";
import { RE2JS } from "re2js";
import { SourceError } from "./errors";
import type { SourceFile } from "./files";
import { byteLines, decodeUtf8 } from "./lines";

export type TextReadOptions = { text?: { split?: TextSplitRule } };

/** A split pattern on RE2's engine (within the spec schema's limits), tested against each line on its own. */
function compilePattern(pattern: string): RE2JS {
  const problem = splitPatternProblem(pattern);
  if (problem)
    throw new SourceError("SOURCE_INVALID", `text.split.pattern ${JSON.stringify(pattern)}: ${problem}`);
  return RE2JS.compile(pattern);
}

/** A document being gathered: its lines so far, and the first line that was not UTF-8. */
type Draft = { startLine: number; lines: string[]; badLine?: { line: number; raw: Buffer } };

/**
 * Documents of a text file. Values are `{text, file}` for one document per file, `{text, file, index}`
 * otherwise (`index` counts documents in the file from 0); locations are `label:line` of the first
 * non-blank line. A document with a line that is not UTF-8 is an `invalid-utf8` record naming that line.
 */
export async function* readText(file: SourceFile, options: TextReadOptions = {}): AsyncGenerator<RawRecord> {
  const split = options.text?.split ?? "file";
  const pattern = typeof split === "object" ? compilePattern(split.pattern) : undefined;
  const startsDocument = pattern && ((line: string) => pattern.test(line));
  let draft: Draft | undefined;
  let index = 0;

  const finish = (): RawRecord | undefined => {
    const done = draft;
    draft = undefined;
    if (!done) return undefined;
    const location = `${file.label}:${done.startLine}`;
    const text = done.lines.join("\n").trim();
    if (text === "" && !done.badLine) return undefined;
    // Counted whether or not the document reads, so fixing one bad document does not renumber the rest.
    const docIndex = index++;
    if (done.badLine) {
      return {
        ok: false,
        location,
        reason: "invalid-utf8",
        message: `line ${done.badLine.line} is not valid UTF-8`,
        raw: done.badLine.raw.toString("latin1"),
      };
    }
    const value = split === "file" ? { text, file: file.label } : { text, file: file.label, index: docIndex };
    return { ok: true, location, value };
  };

  for await (const { line, bytes } of byteLines(file.path)) {
    const decoded = decodeUtf8(bytes);
    const blank = decoded !== undefined && decoded.trim() === "";
    // A boundary closes the document gathered so far; blank lines inside a document are kept as its paragraph breaks.
    const boundary =
      split === "lines" ||
      (split === "blank-lines" && blank) ||
      (startsDocument !== undefined && decoded !== undefined && startsDocument(decoded));
    if (boundary) {
      const record = finish();
      if (record) yield record;
    }
    if (blank && (draft === undefined || split === "blank-lines")) continue;
    draft ??= { startLine: line, lines: [] };
    if (decoded === undefined) draft.badLine ??= { line, raw: bytes };
    else draft.lines.push(decoded);
  }
  const record = finish();
  if (record) yield record;
}
