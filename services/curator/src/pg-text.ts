/**
 * @module Text for PostgreSQL's indexes of what a blob holds exactly. `text` and `jsonb` cannot store U+0000, and
 * `jsonb` no unpaired UTF-16 surrogate either, though JSON carries both: in the rejected-records index they are
 * written as the six characters of their JSON escape (`\u0000`, `\ud800`), so a refused record is still listed
 * and readable; the version's rejected file keeps it exactly.
 */

// biome-ignore lint/suspicious/noControlCharactersInRegex: U+0000 is one of the characters this escapes
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

export function storableText(text: string): string {
  UNSTORABLE.lastIndex = 0;
  if (!UNSTORABLE.test(text)) return text;
  return text.replace(UNSTORABLE, (unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/**
 * A JSON value with its strings and keys made storable. Recursive: rejected records are within the depth limit
 * (`MAX_JSON_DEPTH`), as the builder keeps a deeper one as its text.
 */
export function storableJson(value: unknown): unknown {
  if (typeof value === "string") return storableText(value);
  if (Array.isArray(value)) return value.map(storableJson);
  if (value !== null && typeof value === "object")
    return Object.fromEntries(
      Object.entries(value).map(([key, member]) => [storableText(key), storableJson(member)]),
    );
  return value;
}
