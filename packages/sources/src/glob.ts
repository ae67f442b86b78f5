/**
 * @module Glob patterns for source paths: `*` and `?` within one name, `**` for any number of folders. Wildcards
 * do not match a name starting with a dot unless the pattern does, so `**` skips `.git` and `.cache`.
 */

/** One `/`-separated part of a pattern: a literal name, a wildcard name, or `**`. */
export type GlobSegment =
  | { kind: "literal"; name: string }
  | { kind: "wildcard"; test: (name: string) => boolean }
  | { kind: "globstar" };

export const hasWildcard = (pattern: string): boolean => /[*?]/.test(pattern);

/**
 * Split a pattern into segments; empty and `.` segments are dropped, so `a//b/./c` is `a/b/c`, and `**` next to
 * `**` is one `**`.
 */
export function compileGlob(pattern: string): GlobSegment[] {
  const segments: GlobSegment[] = [];
  for (const part of pattern.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "**") {
      if (segments.at(-1)?.kind !== "globstar") segments.push({ kind: "globstar" });
    } else if (!hasWildcard(part)) {
      segments.push({ kind: "literal", name: part });
    } else {
      const wildcard = Array.from(part);
      const dotAllowed = part.startsWith(".");
      segments.push({
        kind: "wildcard",
        test: (name) => (dotAllowed || !name.startsWith(".")) && wildcardMatches(wildcard, Array.from(name)),
      });
    }
  }
  return segments;
}

/**
 * Whether a name (as code points) matches a pattern of `*`, `?` and literal characters. On a mismatch only the
 * last `*` takes one more character, which is enough for patterns without classes: at most pattern × name
 * steps, where a backtracking regular expression for `*a*a*a…` tries every split.
 */
function wildcardMatches(pattern: readonly string[], name: readonly string[]): boolean {
  let p = 0;
  let n = 0;
  let star = -1;
  let resume = 0;
  while (n < name.length) {
    const ch = pattern[p];
    if (ch === "*") {
      star = p++;
      resume = n;
    } else if (ch !== undefined && (ch === "?" || ch === name[n])) {
      p++;
      n++;
    } else if (star >= 0) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (pattern[p] === "*") p++;
  return p === pattern.length;
}

/** Whether a segment matches one name (a globstar matches any name that is not hidden). */
export function segmentMatches(segment: GlobSegment, name: string): boolean {
  switch (segment.kind) {
    case "literal":
      return segment.name === name;
    case "wildcard":
      return segment.test(name);
    case "globstar":
      return !name.startsWith(".");
  }
}

/** Whether a `/`-separated path (a file in a Hub repo) matches the compiled pattern. */
export function matchesGlob(segments: readonly GlobSegment[], path: string): boolean {
  const names = path.split("/");
  // Positions already known not to match, so `**/a/**/a/…` costs segments × names, not every split.
  const failed = new Set<number>();
  const match = (s: number, n: number): boolean => {
    if (s === segments.length) return n === names.length;
    const key = s * (names.length + 1) + n;
    if (failed.has(key)) return false;
    const segment = segments[s] as GlobSegment;
    const matched =
      segment.kind === "globstar"
        ? match(s + 1, n) ||
          (n < names.length && segmentMatches(segment, names[n] as string) && match(s, n + 1))
        : n < names.length && segmentMatches(segment, names[n] as string) && match(s + 1, n + 1);
    if (!matched) failed.add(key);
    return matched;
  };
  return match(0, 0);
}
