/**
 * @module Files as numbered lines of bytes, read in one pass whatever the length of a line: the pieces of a line
 * that spans many chunks are gathered in a list and joined once, at its end. A line over the caller's limit is
 * reported by its number and length and skipped without being kept, and reading goes on with the next line.
 */
import { createReadStream } from "node:fs";

/** Lines longer than this are refused unless a caller sets its own limit (`CURATOR_MAX_LINE_BYTES`). */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024;

/** Bytes of an overlong line kept to show how it starts. */
export const OVERLONG_HEAD_BYTES = 1024;

/**
 * Line `line` (from 1) without its LF: its bytes, or, past the limit, its length and first bytes. A CR before
 * the LF and a BOM are left to the caller.
 */
export type FileLine =
  | { line: number; bytes: Buffer; overlong?: undefined }
  | { line: number; bytes?: undefined; overlong: { bytes: number; head: Buffer } };

const LF = 0x0a;

export async function* fileLines(
  path: string,
  maxLineBytes = Number.POSITIVE_INFINITY,
): AsyncGenerator<FileLine> {
  let parts: Buffer[] = [];
  let size = 0;
  let head: Buffer | undefined;
  let line = 0;
  const take = (): FileLine => {
    line++;
    const out: FileLine = head
      ? { line, overlong: { bytes: size, head } }
      : { line, bytes: parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, size) };
    parts = [];
    size = 0;
    head = undefined;
    return out;
  };
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    let start = 0;
    for (;;) {
      const lf = chunk.indexOf(LF, start);
      const piece = chunk.subarray(start, lf === -1 ? chunk.length : lf);
      size += piece.length;
      if (head === undefined) {
        if (size > maxLineBytes) head = headOf([...parts, piece]);
        else if (piece.length > 0) parts.push(piece);
        // From here on only the length of the overlong line is counted.
        if (head !== undefined) parts = [];
      }
      if (lf === -1) break;
      yield take();
      start = lf + 1;
    }
  }
  if (size > 0) yield take();
}

function headOf(parts: Buffer[]): Buffer {
  const kept: Buffer[] = [];
  let bytes = 0;
  for (const part of parts) {
    if (bytes >= OVERLONG_HEAD_BYTES) break;
    const piece = part.subarray(0, OVERLONG_HEAD_BYTES - bytes);
    kept.push(piece);
    bytes += piece.length;
  }
  return Buffer.from(Buffer.concat(kept, bytes));
}
