/**
 * @module What JSON carries but a dataset cannot keep: nesting deeper than {@link MAX_JSON_DEPTH} (hashing,
 * `JSON.stringify` and PostgreSQL's `jsonb` all recurse, and overflow their stacks on it), strings or keys with
 * an unpaired UTF-16 surrogate (UTF-8, and so Parquet and PostgreSQL, cannot encode one: it would be written as
 * U+FFFD while the content hash covers the original), and numbers outside a 64-bit float's range (`1e400` reads
 * as Infinity, which JSON cannot write back); for values that go to PostgreSQL as they are, U+0000 too. One walk
 * with its own stack finds them, at any depth.
 */

declare global {
  interface String {
    /** ES2024; in Node since 20. */
    isWellFormed(): boolean;
  }
}

/** Most levels of arrays and objects a record may nest, the record itself being the first. */
export const MAX_JSON_DEPTH = 100;

/** Path segments shown for a value nested too deep; the rest of its (long) path is left out. */
const DEPTH_PATH_SHOWN = 4;

export type JsonIssue = { path: (string | number)[]; message: string };

export type JsonCheck = {
  /** Default {@link MAX_JSON_DEPTH}. */
  maxDepth?: number;
  /** Refuse U+0000 in strings and keys too, for values that go to PostgreSQL as they are. */
  refuseNul?: boolean;
};

type Rules = { maxDepth: number; text: "well-formed" | "storable" | "any" };

/**
 * The first value (in document order) that a dataset cannot keep, with its path and what is wrong, or
 * undefined when there is none.
 */
export function jsonValueIssue(value: unknown, check: JsonCheck = {}): JsonIssue | undefined {
  const rules: Rules = {
    maxDepth: check.maxDepth ?? MAX_JSON_DEPTH,
    text: check.refuseNul ? "storable" : "well-formed",
  };
  // Most values are sound: a walk without paths answers for them, and only a bad one is walked again for where.
  if (!hasIssue(value, rules)) return undefined;
  return locateIssue(value, rules);
}

/**
 * Whether JSON text can be written for the value (by recursive code, within the depth limit): no nesting past
 * `maxDepth` and no number out of range. Unpaired surrogates do not matter here: JSON escapes them.
 */
export function writableAsJson(value: unknown, maxDepth = MAX_JSON_DEPTH): boolean {
  return !hasIssue(value, { maxDepth, text: "any" });
}

function badText(text: string, rules: Rules): boolean {
  if (rules.text === "any") return false;
  return !text.isWellFormed() || (rules.text === "storable" && text.includes("\u0000"));
}

/** The children of a container, last first, so that popping them visits them in document order. */
function childrenOf(value: object): [string | number, unknown][] {
  if (Array.isArray(value)) {
    const out: [number, unknown][] = [];
    for (let i = value.length - 1; i >= 0; i--) out.push([i, value[i]]);
    return out;
  }
  const keys = Object.keys(value);
  const out: [string, unknown][] = [];
  for (let i = keys.length - 1; i >= 0; i--) {
    const key = keys[i] as string;
    out.push([key, (value as Record<string, unknown>)[key]]);
  }
  return out;
}

function hasIssue(root: unknown, rules: Rules): boolean {
  const { maxDepth } = rules;
  const values: unknown[] = [root];
  const depths: number[] = [0];
  while (values.length > 0) {
    const value = values.pop();
    const depth = depths.pop() as number;
    if (typeof value === "string") {
      if (badText(value, rules)) return true;
    } else if (typeof value === "number") {
      if (!Number.isFinite(value)) return true;
    } else if (value !== null && typeof value === "object") {
      if (depth >= maxDepth) return true;
      if (Array.isArray(value)) {
        for (let i = value.length - 1; i >= 0; i--) {
          values.push(value[i]);
          depths.push(depth + 1);
        }
      } else {
        for (const key of Object.keys(value)) {
          if (badText(key, rules)) return true;
          values.push((value as Record<string, unknown>)[key]);
          depths.push(depth + 1);
        }
      }
    }
  }
  return false;
}

function locateIssue(root: unknown, rules: Rules): JsonIssue | undefined {
  const { maxDepth } = rules;
  const stack: { value: unknown; path: (string | number)[] }[] = [{ value: root, path: [] }];
  while (stack.length > 0) {
    const { value, path } = stack.pop() as (typeof stack)[number];
    if (typeof value === "string") {
      if (badText(value, rules)) return { path, message: textProblem(value) };
    } else if (typeof value === "number") {
      if (!Number.isFinite(value))
        return {
          path,
          message: `is ${value}: a number out of a 64-bit float's range, which JSON cannot write back; numbers must be finite`,
        };
    } else if (value !== null && typeof value === "object") {
      if (path.length >= maxDepth)
        return {
          path: path.slice(0, DEPTH_PATH_SHOWN),
          message: `nested more than ${maxDepth} levels deep (the most a record may nest)`,
        };
      if (!Array.isArray(value)) {
        const bad = Object.keys(value).find((key) => badText(key, rules));
        if (bad !== undefined) return { path, message: `key ${JSON.stringify(bad)} ${textProblem(bad)}` };
      }
      for (const [key, child] of childrenOf(value)) stack.push({ value: child, path: [...path, key] });
    }
  }
  return undefined;
}

function textProblem(text: string): string {
  if (text.isWellFormed()) return "holds a NUL character (U+0000), which PostgreSQL text cannot store";
  let at = 0;
  for (; at < text.length; at++) {
    const unit = text.charCodeAt(at);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(at + 1);
      if (next >= 0xdc00 && next <= 0xdfff) at++;
      else break;
    } else if (unit >= 0xdc00 && unit <= 0xdfff) break;
  }
  const code = text.charCodeAt(at).toString(16).padStart(4, "0");
  return `holds an unpaired UTF-16 surrogate (\\u${code} at character ${at + 1}), which UTF-8 cannot encode`;
}
