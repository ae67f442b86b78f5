/**
 * @module Files as numbered lines of bytes, streamed: decoding is left to the caller so that one line that is
 * not UTF-8 is reported on its own instead of being replaced with U+FFFD or failing the file.
 */
import { isUtf8 } from "node:buffer";
import { fileLines } from "@sovereign/shards";

export const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** The text of UTF-8 bytes, or undefined when they are not valid UTF-8 (checked first, so nothing is replaced). */
export function decodeUtf8(bytes: Buffer): string | undefined {
  return isUtf8(bytes) ? bytes.toString("utf8") : undefined;
}

/**
 * Lines numbered from 1, without their LF or CRLF; a BOM at the start of the file is dropped. Linear in the
 * length of a line (`fileLines`); no line is too long here, as a text document may be one long line.
 */
export async function* byteLines(path: string): AsyncGenerator<{ line: number; bytes: Buffer }> {
  for await (const read of fileLines(path)) {
    // Without a limit every line comes with its bytes.
    let bytes = read.bytes as Buffer;
    if (read.line === 1 && bytes.subarray(0, 3).equals(BOM)) bytes = bytes.subarray(3);
    yield { line: read.line, bytes: bytes.at(-1) === 0x0d ? bytes.subarray(0, -1) : bytes };
  }
}
