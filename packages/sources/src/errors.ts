/** @module The one error type sources throw, with a code a caller can act on (retry, ask for a token, fix the spec). */

export type SourceErrorCode =
  /** A path or glob matches nothing, or a Hub repo, revision or file does not exist. */
  | "SOURCE_NOT_FOUND"
  /** The Hub refused the token, or wants one. */
  | "SOURCE_UNAUTHORIZED"
  /** No reader for a file: an unknown format name or extension. */
  | "SOURCE_UNKNOWN_FORMAT"
  /** A path a confined source may not read: outside its roots (links followed), or under /proc, /sys or /dev. */
  | "SOURCE_FORBIDDEN"
  /** A file over a reader's size limit. */
  | "SOURCE_TOO_LARGE"
  /** The Hub could not be reached or answered something unexpected. */
  | "SOURCE_UNAVAILABLE"
  /** A file that cannot be read as a whole (a CSV header naming a column twice, a path escaping the cache). */
  | "SOURCE_INVALID";

export class SourceError extends Error {
  constructor(
    readonly code: SourceErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "SourceError";
  }
}
