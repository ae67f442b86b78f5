/**
 * @module Canonical JSON and sha256: the two halves of content addressing.
 *
 * Canonical JSON here is RFC 8785-style for the values we store: object keys sorted by UTF-16 code units,
 * no insignificant whitespace, numbers as ECMAScript prints them, `undefined` object members omitted. It
 * refuses values JSON cannot carry (NaN, Infinity, bigint, functions) instead of silently changing them.
 */
import { createHash } from "node:crypto";

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
