/**
 * @module Canonical JSON and sha256: the two halves of content addressing.
 *
 * Canonical JSON here is RFC 8785-style for the values we store: object keys sorted by UTF-16 code units,
 * no insignificant whitespace, numbers as ECMAScript prints them, `undefined` object members omitted. It
 * refuses values JSON cannot carry (NaN, Infinity, bigint, functions) instead of silently changing them.
 */
import { createHash } from "node:crypto";
import { writableAsJson } from "@sovereign/schemas";

/** `path` names the value in the error for a value JSON cannot carry. */
export function canonicalJson(value: unknown, path = "$"): string {
  return encode(value, path);
}

function encode(value: unknown, path: string): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isFinite(value)) throw new TypeError(`${path}: ${value} has no JSON form`);
      return JSON.stringify(value);
    case "object": {
      if (Array.isArray(value)) {
        return `[${value.map((v, i) => (v === undefined ? "null" : encode(v, `${path}[${i}]`))).join(",")}]`;
      }
      if (value instanceof Date) return JSON.stringify(value.toISOString());
      const keys = Object.keys(value).sort();
      const parts: string[] = [];
      for (const key of keys) {
        const member = (value as Record<string, unknown>)[key];
        if (member === undefined) continue;
        parts.push(`${JSON.stringify(key)}:${encode(member, `${path}.${key}`)}`);
      }
      return `{${parts.join(",")}}`;
    }
    default:
      throw new TypeError(`${path}: a ${typeof value} has no JSON form`);
  }
}

/** A piece of JSON text already written, among the values still to write. */
class Written {
  constructor(readonly text: string) {}
}

/** JSON text of any value, written with a stack of its own instead of recursion. */
function writeJson(value: unknown, sortKeys: boolean, nonFinite: (n: number) => string): string {
  const out: string[] = [];
  const todo: unknown[] = [value];
  while (todo.length > 0) {
    const next = todo.pop();
    if (next instanceof Written) out.push(next.text);
    else if (next === null || next === undefined) out.push("null");
    else if (typeof next === "string") out.push(JSON.stringify(next));
    else if (typeof next === "number")
      out.push(Number.isFinite(next) ? JSON.stringify(next) : nonFinite(next));
    else if (typeof next === "boolean") out.push(next ? "true" : "false");
    else if (Array.isArray(next)) {
      // Pushed last first: popped as `[`, the items with commas between, `]`.
      todo.push(new Written("]"));
      for (let i = next.length - 1; i >= 0; i--) {
        todo.push(next[i]);
        if (i > 0) todo.push(new Written(","));
      }
      todo.push(new Written("["));
    } else if (typeof next === "object") {
      const keys = Object.keys(next);
      if (sortKeys) keys.sort();
      const members = keys.filter((key) => (next as Record<string, unknown>)[key] !== undefined);
      todo.push(new Written("}"));
      for (let i = members.length - 1; i >= 0; i--) {
        const key = members[i] as string;
        todo.push((next as Record<string, unknown>)[key]);
        todo.push(new Written(`${i > 0 ? "," : ""}${JSON.stringify(key)}:`));
      }
      todo.push(new Written("{"));
    } else out.push(JSON.stringify(String(next)));
  }
  return out.join("");
}

/**
 * Canonical JSON text of a value `canonicalJson` cannot take, written without recursion: one nested past the
 * depth limit, or holding numbers out of range, which are written `Infinity`, `-Infinity` or `NaN` (as
 * Python's `json` module reads them).
 */
export function deepJsonText(value: unknown): string {
  return writeJson(value, true, String);
}

/**
 * JSON text that `JSON.parse` (which does not recurse) turns back into the same value, keys in their order and
 * infinities as `±1e999`: how a value too deep for structured cloning travels to a worker thread.
 */
export function transferableJson(value: unknown): string {
  return writeJson(value, false, (n) => (n > 0 ? "1e999" : n < 0 ? "-1e999" : "null"));
}

/** A record as text, for a refused record's `raw`: its JSON, written by `deepJsonText` when `JSON.stringify` cannot. */
export function recordText(value: unknown): string {
  return writableAsJson(value) ? JSON.stringify(value) : deepJsonText(value);
}

/** A rejected record as it can be kept: itself when JSON can carry it, else its text (`deepJsonText`). */
export function keepableRecord(value: unknown): unknown {
  return writableAsJson(value) ? value : deepJsonText(value);
}

/** Whether `canonicalJson` takes the value; found without building its text. */
export function hasJsonForm(value: unknown): boolean {
  if (value === null) return true;
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value);
    case "object":
      if (value instanceof Date) return !Number.isNaN(value.getTime());
      return (Array.isArray(value) ? value : Object.values(value)).every(
        (v) => v === undefined || hasJsonForm(v),
      );
    default:
      return false;
  }
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

export const SHA256_HEX = /^[0-9a-f]{64}$/;

export function isSha256Hex(value: string): boolean {
  return SHA256_HEX.test(value);
}
